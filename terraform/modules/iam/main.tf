data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

################################################################################
# Trust: ECS tasks of this account only
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "ECSTasksOfThisAccount"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

################################################################################
# Execution role: what ECS needs to start the container
################################################################################

resource "aws_iam_role" "task_exec" {
  name                 = "${var.name}-task-exec"
  description          = "ECS pulls the ${var.name} image, writes its logs and reads its Qdrant secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "task_exec" {
  statement {
    sid = "PullTheServiceImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }

  # GetAuthorizationToken has no resource-level permissions: AWS accepts only `*`.
  statement {
    sid       = "ECRLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteServiceLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }

  statement {
    sid       = "ReadQdrantSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = var.secret_arns
  }

  statement {
    sid       = "DecryptQdrantSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task_exec" {
  name   = "start-the-service"
  role   = aws_iam_role.task_exec.id
  policy = data.aws_iam_policy_document.task_exec.json
}

################################################################################
# Task role: what the service's code may call
################################################################################

resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  description          = "The ${var.name} service: Bedrock models and the documents bucket"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "task" {
  dynamic "statement" {
    for_each = length(concat(var.bedrock_model_arns, var.bedrock_inference_profile_arns)) > 0 ? [1] : []

    content {
      sid       = "InvokeConfiguredModels"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = concat(var.bedrock_model_arns, var.bedrock_inference_profile_arns)
    }
  }

  # Converse with guardrailConfig needs bedrock:ApplyGuardrail on the guardrail (Bedrock user
  # guide, "Set up permissions to use Amazon Bedrock Guardrails").
  dynamic "statement" {
    for_each = length(var.bedrock_guardrail_arns) > 0 ? [1] : []

    content {
      sid       = "ApplyConfiguredGuardrail"
      actions   = ["bedrock:ApplyGuardrail"]
      resources = var.bedrock_guardrail_arns
    }
  }

  # Rerank (bedrock-agent-runtime, app/rerank.py) needs bedrock:Rerank, which supports no
  # resource-level permissions (AWS accepts only `*`), and bedrock:InvokeModel on the
  # reranking model (Bedrock user guide, "Permissions for reranking": both, for Rerank with
  # a list of sources). Only with a reranker configured.
  dynamic "statement" {
    for_each = length(var.bedrock_rerank_model_arns) > 0 ? [1] : []

    content {
      sid       = "Rerank"
      actions   = ["bedrock:Rerank"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.bedrock_rerank_model_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeTheRerankModel"
      actions   = ["bedrock:InvokeModel"]
      resources = var.bedrock_rerank_model_arns
    }
  }

  statement {
    sid       = "ListDocuments"
    actions   = ["s3:ListBucket"]
    resources = [var.documents_bucket_arn]
  }

  statement {
    sid       = "ReadDocuments"
    actions   = ["s3:GetObject"]
    resources = ["${var.documents_bucket_arn}/*"]
  }

  statement {
    sid       = "DecryptDocuments"
    actions   = ["kms:Decrypt"]
    resources = [var.documents_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "run-the-service"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
