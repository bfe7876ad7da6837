locals {
  blue_green = var.test_listener_port != null
}

################################################################################
# Load balancer: internal, private subnets, reached only by the API Gateway VPC link
################################################################################

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150:Deletion protection follows the environment: on in prod (environment = "prod"), off in dev so it can be torn down.
  #checkov:skip=CKV2_AWS_20:An ALB check: this is an NLB with one TCP listener behind API Gateway, which alone speaks HTTPS to clients.
  #checkov:skip=CKV_AWS_91:NLB access logs are written only for TLS listeners; this NLB has one TCP listener, and API Gateway access logs record every request.
  name                             = var.name
  internal                         = true
  load_balancer_type               = "network"
  subnets                          = var.subnet_ids
  security_groups                  = [aws_security_group.this.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection

  # The VPC link's PrivateLink traffic carries no VPC source address the security group
  # could match; every other source is still held to the rules below.
  enforce_security_group_inbound_rules_on_private_link_traffic = "off"
}

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-nlb-"
  description = "Internal NLB: port ${var.listener_port} from inside the VPC, port ${var.target_port} to the tasks"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-nlb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "listener" {
  security_group_id = aws_security_group.this.id
  description       = "Listener port from inside the VPC"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = var.listener_port
  to_port           = var.listener_port
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.this.id
  description       = "Traffic and health checks to the tasks"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = var.target_port
  to_port           = var.target_port
}

################################################################################
# Target group and listener
################################################################################

resource "aws_lb_target_group" "this" {
  name                 = var.name
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "TCP"
  port                 = var.target_port
  deregistration_delay = var.deregistration_delay
  preserve_client_ip   = false # the tasks' security group admits the NLB, not the callers

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "this" {
  #checkov:skip=CKV2_AWS_74:TCP listener inside the VPC; TLS ends at API Gateway and the VPC link hop is PrivateLink.
  load_balancer_arn = aws_lb.this.arn
  protocol          = "TCP"
  port              = var.listener_port

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  lifecycle {
    # With deployment_strategy = "BLUE_GREEN", ECS owns where this listener forwards: each
    # deployment points it at the other target group through the infrastructure role
    # (ECS developer guide, "Network Load Balancer resources for Amazon ECS blue/green
    # deployments"). Terraform sets it once, at creation; after that an apply that put
    # back the configured group would send production to the one ECS has just drained
    # (plan drift on default_action, the listener half of the provider issue
    # terraform-provider-aws #45678). With ROLLING nothing else changes it, so ignoring it
    # costs nothing; a replaced target group fails its delete (in use) instead of
    # silently losing traffic. The same holds for the test listener below.
    ignore_changes = [default_action]
  }
}

################################################################################
# Blue/green (test_listener_port set): the alternate target group, and the test listener
# ECS sends the new revision's test traffic to before production moves
################################################################################

# The same settings as the primary group: either one is production after a deployment.
# Two resources rather than one for_each over {primary, alternate}: the for_each would need
# moved blocks for every existing state, and every reference (the listeners, the outputs,
# terraform/tests/blue_green.tftest.hcl's overrides, the offline IAM renderer in tests/iam)
# would index by key for about fifteen shared lines; the test "the alternate group matches
# the primary one" in blue_green.tftest.hcl keeps the two alike.
resource "aws_lb_target_group" "alternate" {
  count = local.blue_green ? 1 : 0

  name                 = "${var.name}-alt"
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "TCP"
  port                 = var.target_port
  deregistration_delay = var.deregistration_delay
  preserve_client_ip   = false

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "test" {
  count = local.blue_green ? 1 : 0

  #checkov:skip=CKV2_AWS_74:TCP test listener inside the VPC, reached only from the VPC (the smoke hook); no client ever uses it.
  load_balancer_arn = aws_lb.this.arn
  protocol          = "TCP"
  port              = var.test_listener_port

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.alternate[0].arn
  }

  lifecycle {
    ignore_changes = [default_action] # ECS points it at the new revision (see above)
  }
}

resource "aws_vpc_security_group_ingress_rule" "test_listener" {
  count = local.blue_green ? 1 : 0

  security_group_id = aws_security_group.this.id
  description       = "Blue/green test listener from inside the VPC (the smoke hook)"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = var.test_listener_port
  to_port           = var.test_listener_port
}
