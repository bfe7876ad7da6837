################################################################################
# The permissions boundary of every role an environment's Terraform creates
#
# The apply role may create and change roles named `<app>-<env>-*` (main.tf), trusted by
# whatever the configuration says. Without a ceiling, a Terraform change could create a role
# with `*:*`, trusted by the other environment's GitHub subject, and reach it. The apply
# role may create or change a role only with this boundary attached (condition
# iam:PermissionsBoundary), and may never remove it; the boundary is a fixed managed policy
# that the apply role cannot edit. A role's effective permissions are the intersection of
# its own policies and this one (IAM user guide, "Permissions boundaries for IAM entities").
#
# Its content: the union of what the stack's roles need (modules/iam: task and execution
# roles; modules/network: the flow-logs role; modules/blue_green: the smoke hook, the role
# ECS invokes it with, ECS's infrastructure role), each scoped to this environment.
################################################################################

data "aws_iam_policy_document" "workload_boundary" {
  for_each = local.envs

  # GetAuthorizationToken has no resource-level permissions: AWS accepts only `*`.
  statement {
    sid       = "ECRLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullThisEnvironmentsImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [each.value.repository]
  }

  statement {
    sid     = "WriteThisEnvironmentsLogs"
    actions = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [
      "${local.logs_arn}:log-group:/ecs/${each.value.name}:*",
      "${local.logs_arn}:log-group:/aws/vpc/${each.value.name}/flow-logs:*",
      "${local.logs_arn}:log-group:/aws/lambda/${each.value.name}-smoke-hook:*",
    ]
  }

  # Blue/green (modules/blue_green). The smoke hook reads this service's revisions...
  statement {
    sid       = "ReadThisServicesRevisions"
    actions   = ["ecs:DescribeServiceRevisions"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:service-revision/${each.value.name}/${each.value.name}/*"]
  }

  # ...and runs in the VPC: Lambda manages its network interfaces with the function's role
  # (AWSLambdaVPCAccessExecutionRole's actions; DescribeNetworkInterfaces only on `*`).
  statement {
    sid       = "FindNetworkInterfaces"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    resources = ["*"]
  }

  statement {
    sid = "LambdaNetworkInterfaces"
    actions = [
      "ec2:AssignPrivateIpAddresses",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = [
      "${local.ec2_arn}:network-interface/*",
      "${local.ec2_arn}:security-group/*",
      "${local.ec2_arn}:subnet/*",
    ]
  }

  # ECS invokes the hook...
  statement {
    sid       = "InvokeThisEnvironmentsSmokeHook"
    actions   = ["lambda:InvokeFunction"]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account}:function:${each.value.name}-smoke-hook"]
  }

  # ...and moves traffic between this environment's target groups and listeners.
  # Describe* of Elastic Load Balancing supports no resource-level permissions.
  statement {
    sid = "ReadLoadBalancers"
    actions = [
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]
  }

  statement {
    sid     = "ShiftThisEnvironmentsTraffic"
    actions = ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:RegisterTargets"]
    resources = [
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account}:targetgroup/${each.value.name}/*",
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account}:targetgroup/${each.value.name}-alt/*",
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account}:listener/net/${each.value.name}/*",
    ]
  }

  # DescribeLogGroups supports no resource-level permissions: AWS accepts only `*`.
  statement {
    sid       = "FindLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadThisEnvironmentsSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.app_name}/${each.key}/*"]
  }

  statement {
    sid       = "DecryptThroughSecretsManagerAndS3"
    actions   = ["kms:Decrypt"]
    resources = ["${local.kms_arn}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com", "s3.${local.region}.amazonaws.com"]
    }
  }

  # Models in any Region: an inference profile routes to several.
  statement {
    sid     = "InvokeBedrockModels"
    actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    resources = [
      "arn:${local.partition}:bedrock:*::foundation-model/*",
      "arn:${local.partition}:bedrock:*:${local.account}:inference-profile/*",
    ]
  }

  # Rerank with a reranking model (the InvokeModel on it is above): bedrock:Rerank supports
  # no resource-level permissions, AWS accepts only `*` (Bedrock user guide, "Permissions for
  # reranking"). The stack grants it only with a reranker configured.
  statement {
    sid       = "RerankWithBedrockModels"
    actions   = ["bedrock:Rerank"]
    resources = ["*"]
  }

  # Guardrails of this account, in any Region, as the models (Bedrock user guide, "Set up
  # permissions to use Amazon Bedrock Guardrails"): the stack grants the configured one.
  statement {
    sid       = "ApplyBedrockGuardrails"
    actions   = ["bedrock:ApplyGuardrail"]
    resources = ["arn:${local.partition}:bedrock:*:${local.account}:guardrail/*"]
  }

  statement {
    sid       = "ListThisEnvironmentsDocuments"
    actions   = ["s3:ListBucket"]
    resources = [each.value.documents_bucket]
  }

  statement {
    sid       = "ReadThisEnvironmentsDocuments"
    actions   = ["s3:GetObject"]
    resources = ["${each.value.documents_bucket}/*"]
  }
}

resource "aws_iam_policy" "workload_boundary" {
  for_each = local.envs

  # The root module derives this ARN from the same name (local.permissions_boundary_arn).
  name        = "${each.value.name}-workload-boundary"
  description = "Permissions boundary of every role terraform apply of ${each.value.name} creates"
  policy      = data.aws_iam_policy_document.workload_boundary[each.key].json
}
