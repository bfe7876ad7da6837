################################################################################
# plan: what a refresh of the stack reads (instead of ReadOnlyAccess)
#
# The plan role is trusted for every same-repository pull request, whose workflow runs the
# pull request's own code: whatever it can read, a branch pusher can read. So it gets the
# Describe/Get/List calls the provider makes to refresh the resources and data sources of
# terraform/ (tests/infra/test_tf_apply_role.py lists them per resource type) and nothing
# else: no log contents (logs:GetLogEvents, FilterLogEvents, StartQuery), no image layers
# (ecr:BatchGetImage, GetDownloadUrlForLayer), no document objects, no secret values but
# the smoke-test key's (main.tf). Scoped to this application's names where the ARN has
# them; `*` only where AWS accepts nothing else.
################################################################################

data "aws_iam_policy_document" "plan_read" {
  # None of these supports resource-level permissions: AWS accepts only `*`.
  statement {
    sid = "ReadsWithoutResourceLevelPermissions"
    actions = [
      # Describe* (reads only) as for the apply role: the provider's reads of a load
      # balancer grow with its attributes (e.g. DescribeCapacityReservation).
      "application-autoscaling:Describe*",
      "ec2:DescribeAddresses",
      "ec2:DescribeAddressesAttribute",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeFlowLogs",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeNatGateways",
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribePrefixLists",
      "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcEndpointServiceConfigurations",
      "ec2:DescribeVpcEndpointServices",
      "ec2:DescribeVpcEndpoints",
      "ec2:DescribeVpcs",
      "ecs:DescribeTaskDefinition",
      "elasticloadbalancing:Describe*",
      "kms:ListAliases",
      "logs:DescribeLogGroups",
      "sns:GetSubscriptionAttributes",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ReadThisApplicationsResources"
    actions = [
      "application-autoscaling:ListTagsForResource",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "ec2:DescribeVpcAttribute",
      "ecr:DescribeRepositories",
      "ecr:GetLifecyclePolicy",
      "ecr:ListTagsForResource",
      "ecs:DescribeClusters",
      "ecs:DescribeServices",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
      "kms:DescribeKey",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
      "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:ListTags",
      "lambda:ListVersionsByFunction",
      "logs:ListTagsForResource",
      "s3:GetAccelerateConfiguration",
      "s3:GetBucket*",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:ListBucket",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "sns:GetTopicAttributes",
      "sns:ListTagsForResource",
      "wafv2:GetLoggingConfiguration",
      "wafv2:GetWebACL",
      "wafv2:GetWebACLForResource",
      "wafv2:ListTagsForResource",
    ]
    resources = [
      "arn:${local.partition}:application-autoscaling:${local.region}:${local.account}:scalable-target/*",
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${var.app_name}-*",
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-service/${var.app_name}-*",
      "${local.ec2_arn}:vpc/*",
      "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${var.app_name}-*",
      "arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${var.app_name}-*",
      "arn:${local.partition}:ecs:${local.region}:${local.account}:service/${var.app_name}-*",
      "arn:${local.partition}:iam::${local.account}:role/${var.app_name}-*",
      "${local.kms_arn}:key/*",
      "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.app_name}-*",
      "${local.logs_arn}:log-group:*",
      # modules/s3 names the documents buckets `<app>-<env>-documents-<account id>`
      # (ListBucket lists their object names, never their contents).
      "arn:${local.partition}:s3:::${var.app_name}-*-documents-${local.account}",
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.app_name}/*",
      "arn:${local.partition}:sns:${local.region}:${local.account}:${var.app_name}-*",
      "arn:${local.partition}:wafv2:${local.region}:${local.account}:regional/webacl/${var.app_name}-*",
      "arn:${local.partition}:apigateway:${local.region}::/restapis/*/stages/*",
    ]
  }

  # REST API, VPC link, usage plan and keys: their IDs are AWS's. GET on /apikeys returns the
  # key values, which the state holds anyway (README, "What a pull request can read").
  statement {
    sid     = "APIGatewayReads"
    actions = ["apigateway:GET"]
    resources = [
      "arn:${local.partition}:apigateway:${local.region}::/apikeys*",
      "arn:${local.partition}:apigateway:${local.region}::/restapis*",
      "arn:${local.partition}:apigateway:${local.region}::/tags/*",
      "arn:${local.partition}:apigateway:${local.region}::/usageplans*",
      "arn:${local.partition}:apigateway:${local.region}::/vpclinks*",
    ]
  }
}
