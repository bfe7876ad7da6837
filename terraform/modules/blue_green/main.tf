################################################################################
# What ECS's native blue/green deployment needs besides the load balancer's second target
# group and test listener (modules/load_balancer): the role ECS moves traffic with, and the
# smoke hook it calls at POST_TEST_TRAFFIC_SHIFT with the role it invokes it through.
# The root module creates this only with deployment_strategy = "BLUE_GREEN".
################################################################################

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  account       = data.aws_caller_identity.current.account_id
  region        = data.aws_region.current.region
  function_name = "${var.name}-smoke-hook"
  # The cluster and the service share the name (modules/ecs). Service revisions:
  # arn:<partition>:ecs:<region>:<account>:service-revision/<cluster>/<service>/<id>
  # (service authorization reference, Amazon ECS, resource type service-revision).
  service_revisions = "arn:${local.partition}:ecs:${local.region}:${local.account}:service-revision/${var.name}/${var.name}/*"
}

# Both roles ECS assumes trust the ECS service principal, as the ECS developer guide gives
# them ("Amazon ECS infrastructure IAM role for load balancers"; "Permissions required for
# Lambda functions in Amazon ECS blue/green deployments"): it documents no aws:SourceAccount
# / aws:SourceArn for these calls, and a condition ECS does not send would fail every
# deployment. What each can do is confined to this environment's resources below.
data "aws_iam_policy_document" "ecs_assume" {
  statement {
    sid     = "ECS"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
  }
}

################################################################################
# Infrastructure role: ECS registers tasks in the two target groups and points the
# listeners at them
################################################################################

resource "aws_iam_role" "infrastructure" {
  name                 = "${var.name}-ecs-infrastructure"
  description          = "ECS blue/green of ${var.name}: registers tasks and shifts the NLB listeners between the two target groups"
  assume_role_policy   = data.aws_iam_policy_document.ecs_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

# The NLB part of AmazonECSInfrastructureRolePolicyForLoadBalancers (AWS managed policy
# reference; statements ELBReadOperations, TargetGroupOperations, NLBModifyListeners),
# inline and scoped to this stack's target groups and listeners: a managed policy cannot be
# evaluated offline (make iam-check), and the managed one allows every target group and
# listener in the account.
data "aws_iam_policy_document" "infrastructure" {
  # Describe* of Elastic Load Balancing supports no resource-level permissions.
  statement {
    sid = "ELBReadOperations"
    actions = [
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "TargetGroupOperations"
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = var.load_balancer.target_group_arns
  }

  statement {
    sid       = "NLBModifyListeners"
    actions   = ["elasticloadbalancing:ModifyListener"]
    resources = var.load_balancer.listener_arns
  }
}

resource "aws_iam_role_policy" "infrastructure" {
  name   = "shift-traffic"
  role   = aws_iam_role.infrastructure.id
  policy = data.aws_iam_policy_document.infrastructure.json
}

################################################################################
# The smoke hook: deploy/smoke_hook.py, in the private subnets
################################################################################

resource "aws_cloudwatch_log_group" "smoke_hook" {
  # Lambda's default group for the function, created here so that it has a retention and
  # the logs key (and the function needs no logs:CreateLogGroup).
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_security_group" "smoke_hook" {
  name_prefix = "${var.name}-smoke-hook-"
  description = "Smoke hook: the test listener inside the VPC, HTTPS to the ECS API; nothing in"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-smoke-hook" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "smoke_hook_test_listener" {
  security_group_id = aws_security_group.smoke_hook.id
  description       = "The NLB's test listener"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = var.test_listener_port
  to_port           = var.test_listener_port
}

# ecs:DescribeServiceRevisions: ECS has no interface endpoint in this VPC, so through NAT
# (as the tasks reach their AWS APIs).
resource "aws_vpc_security_group_egress_rule" "smoke_hook_https" {
  security_group_id = aws_security_group.smoke_hook.id
  description       = "HTTPS to the ECS API"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "Lambda"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "smoke_hook" {
  name                 = local.function_name
  description          = "The smoke hook of ${var.name}: reads the target service revision, writes its logs, runs in the VPC"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "smoke_hook" {
  # The hook compares the image the test listener's tasks report with the target revision's.
  statement {
    sid       = "ReadThisServicesRevisions"
    actions   = ["ecs:DescribeServiceRevisions"]
    resources = [local.service_revisions]
  }

  statement {
    sid       = "WriteItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.smoke_hook.arn}:*"]
  }

  # The network interfaces of a function in a VPC: AWSLambdaVPCAccessExecutionRole's EC2
  # actions (AWS managed policy reference; Lambda developer guide, "Giving Lambda functions
  # access to resources in an Amazon VPC"). The two reads work only on `*`; the writes are
  # held to this account's and Region's interfaces, subnets and security groups (Lambda
  # creates the interface with this role before any interface ID exists).
  statement {
    sid       = "FindNetworkInterfaces"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    resources = ["*"]
  }

  statement {
    sid = "ManageNetworkInterfaces"
    actions = [
      "ec2:AssignPrivateIpAddresses",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = [
      "arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account}:security-group/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account}:subnet/*",
    ]
  }
}

resource "aws_iam_role_policy" "smoke_hook" {
  name   = "run-the-smoke-hook"
  role   = aws_iam_role.smoke_hook.id
  policy = data.aws_iam_policy_document.smoke_hook.json
}

resource "aws_lambda_function" "smoke_hook" {
  #checkov:skip=CKV_AWS_116:ECS invokes the hook synchronously and acts on its answer (a failed invocation rolls the deployment back); a dead-letter queue applies to asynchronous invocations only.
  #checkov:skip=CKV_AWS_50:No X-Ray: the hook's log group records each attempt and its verdict, and tracing would add xray:PutTraceSegments to the role for a function that runs a few times per release.
  #checkov:skip=CKV_AWS_173:The environment holds no secret (the test listener's URL, three numbers and the smoke question); Lambda encrypts it at rest with its own key.
  #checkov:skip=CKV_AWS_272:No code signing: the package is built deterministically from the reviewed commit, and its hash is part of the plan the release compares with the reviewed one.
  function_name = local.function_name
  description   = "Blue/green smoke test of ${var.name}'s new revision through the test listener (POST_TEST_TRAFFIC_SHIFT)"
  role          = aws_iam_role.smoke_hook.arn
  runtime       = "python3.12"
  handler       = "deploy.smoke_hook.handler"
  architectures = ["arm64"] # pure Python: the cheaper architecture
  memory_size   = 128
  # One attempt per invocation: a few requests of at most SMOKE_TIMEOUT_S each; the hook
  # answers IN_PROGRESS and ECS calls it again after callBackDelay.
  timeout                        = 60
  reserved_concurrent_executions = var.reserved_concurrency

  # No archive provider (the offline checks cannot serve one): make smoke-hook-zip.
  filename         = var.package
  source_code_hash = fileexists(var.package) ? filebase64sha256(var.package) : null

  environment {
    # SMOKE_QUESTION only when set: the hook then asks deploy.smoke's default.
    variables = merge(
      {
        TEST_URL               = var.test_url
        SMOKE_MAX_ATTEMPTS     = tostring(var.smoke_max_attempts)
        SMOKE_CALLBACK_DELAY_S = tostring(var.smoke_callback_delay_s)
        SMOKE_TIMEOUT_S        = tostring(var.smoke_timeout_s)
      },
      var.smoke_question == null ? {} : { SMOKE_QUESTION = var.smoke_question },
    )
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.smoke_hook.id]
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.smoke_hook.name
  }

  lifecycle {
    precondition {
      condition     = fileexists(var.package)
      error_message = "The smoke hook's package ${var.package} does not exist: run `make smoke-hook-zip` (scripts/build-smoke-hook.py) before terraform plan."
    }
  }

  # The role's policy (ENIs, logs) is in place before Lambda creates the function's
  # network interfaces with it.
  depends_on = [aws_iam_role_policy.smoke_hook]
}

################################################################################
# The role ECS invokes the hook through: this one function only
################################################################################

resource "aws_iam_role" "hook_invoke" {
  name                 = "${var.name}-smoke-hook-invoke"
  description          = "ECS invokes the smoke hook of ${var.name} at POST_TEST_TRAFFIC_SHIFT"
  assume_role_policy   = data.aws_iam_policy_document.ecs_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "hook_invoke" {
  statement {
    sid       = "InvokeTheSmokeHook"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.smoke_hook.arn]
  }
}

resource "aws_iam_role_policy" "hook_invoke" {
  name   = "invoke-the-smoke-hook"
  role   = aws_iam_role.hook_invoke.id
  policy = data.aws_iam_policy_document.hook_invoke.json
}
