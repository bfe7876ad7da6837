# No `state = "available"` filter: an impaired zone would drop out of the list, shift the
# ones after it and move subnets. Local Zones are left out.
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Subnets use the first az_count zones by zone ID; new zone IDs sort after the existing ones, so the chosen zones never change.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

# Where each interface endpoint's service is offered: not every service is in every zone
# ("The VPC endpoint service ... does not support the availability zone of the subnet").
data "aws_vpc_endpoint_service" "interface" {
  for_each = local.interface_endpoints

  service_name = "com.amazonaws.${local.region}.${each.value}"
  service_type = "Interface"
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # Chosen by zone ID: a zone *name* maps to a different physical zone in each account, so
  # names would put dev and prod (and the endpoint services' zones) in unrelated places.
  az_ids              = slice(sort(data.aws_availability_zones.available.zone_ids), 0, var.az_count)
  az_name             = zipmap(data.aws_availability_zones.available.zone_ids, data.aws_availability_zones.available.names)
  azs                 = [for id in local.az_ids : local.az_name[id]]
  interface_endpoints = { for service in var.interface_endpoints : replace(service, ".", "-") => service }
  nat_count           = var.single_nat_gateway ? 1 : var.az_count
  region              = data.aws_region.current.region
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # interface endpoints need private DNS

  tags = { Name = var.name }
}

# No rules: nothing may use the default security group by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = { Name = "${var.name}-default-unused" }
}

################################################################################
# Subnets
################################################################################

resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id                  = aws_vpc.this.id
  cidr_block              = cidrsubnet(var.cidr, 4, count.index)
  availability_zone_id    = local.az_ids[count.index]
  map_public_ip_on_launch = false # only the NAT gateways live here, with their own EIPs

  tags = { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id               = aws_vpc.this.id
  cidr_block           = cidrsubnet(var.cidr, 4, count.index + 8)
  availability_zone_id = local.az_ids[count.index]

  tags = { Name = "${var.name}-private-${local.azs[count.index]}", Tier = "private" }
}

################################################################################
# Internet and NAT
################################################################################

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = { Name = var.name }
}

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = { Name = "${var.name}-nat-${local.azs[count.index]}" }
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = { Name = "${var.name}-${local.azs[count.index]}" }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = { Name = "${var.name}-public" }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# One table per AZ, so that an AZ keeps its own NAT gateway when there is one per AZ.
resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.this.id

  tags = { Name = "${var.name}-private-${local.azs[count.index]}" }
}

resource "aws_route" "private_nat" {
  count = var.az_count

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

################################################################################
# VPC endpoints: AWS APIs stay off the NAT gateways (cost) and off the internet
################################################################################

resource "aws_security_group" "endpoints" {
  name_prefix = "${var.name}-endpoints-"
  description = "HTTPS from inside the VPC to the interface endpoints"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-endpoints" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  cidr_ipv4         = aws_vpc.this.cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = { Name = "${var.name}-s3" }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoints

  vpc_id            = aws_vpc.this.id
  service_name      = data.aws_vpc_endpoint_service.interface[each.key].service_name
  vpc_endpoint_type = "Interface"
  # Only the private subnets whose zone offers the service; tasks in the other zones reach
  # the endpoint across zones through its private DNS name.
  subnet_ids = [
    for i, subnet in aws_subnet.private : subnet.id
    if contains(data.aws_vpc_endpoint_service.interface[each.key].availability_zones, local.azs[i])
  ]
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true

  tags = { Name = "${var.name}-${each.value}" }

  lifecycle {
    precondition {
      condition     = length(setintersection(data.aws_vpc_endpoint_service.interface[each.key].availability_zones, local.azs)) > 0
      error_message = "The endpoint service ${each.value} is offered in none of the chosen zones (${join(", ", local.azs)}): remove it from vpc_interface_endpoints (it goes through NAT) or raise az_count."
    }
  }
}

################################################################################
# Flow logs
################################################################################

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/aws/vpc/${var.name}/flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    sid     = "VPCFlowLogs"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    sid       = "WriteFlowLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }

  statement {
    sid       = "FindTheLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${local.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  name_prefix          = "${var.name}-flow-logs-"
  assume_role_policy   = data.aws_iam_policy_document.flow_logs_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 600

  tags = { Name = var.name }
}
