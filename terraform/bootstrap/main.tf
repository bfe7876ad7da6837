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
      family     = "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.app_name}-${env}:*"
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

data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    sid     = "APIGateway"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
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

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
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

  # plan takes the lock: it writes and removes `<key>.tflock` next to the state.
  statement {
    sid       = "TakeTheLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for e in local.envs : "${local.state_arn}/${e.state_key}.tflock"]
  }

  statement {
    sid       = "UseTheStateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [module.state_kms.key_arn]
  }

  # ReadOnlyAccess can read every object in the account; a pull request must not read the
  # documents or anything else but the state.
  statement {
    sid           = "NoOtherObjects"
    effect        = "Deny"
    actions       = ["s3:GetObject", "s3:GetObjectVersion"]
    not_resources = ["${local.state_arn}/*"]
  }

  statement {
    sid       = "NoSecretValues"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "state-and-limits"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
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

  statement {
    sid       = "UseTheStateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [module.state_kms.key_arn]
  }

  # IAM only for this environment's own roles (task roles, flow-log role).
  statement {
    sid = "ManageThisEnvironmentsRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:ListRoleTags",
      "iam:PassRole",
      "iam:PutRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = ["arn:${local.partition}:iam::${local.account}:role/${each.value.name}-*"]
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
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [each.value.repository]
  }

  # Neither action supports resource-level permissions: AWS accepts only `*`.
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
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

  statement {
    sid       = "ReadThisServicesTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = [each.value.tasks]
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
