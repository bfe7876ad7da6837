data "aws_region" "current" {}

locals {
  blue_green = var.deployment_strategy == "BLUE_GREEN"

  # Only the first deployment runs this image: afterwards the rollout owns it (see the
  # service's lifecycle below and the README's "Who owns the task definition").
  image = "${var.image_repository_url}:${coalesce(var.image_tag, "initial")}"
}

################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  name = var.name

  #checkov:skip=CKV_AWS_224:No ECS Exec (the service sets enable_execute_command = false, see there), so there are no exec sessions to log or encrypt.
  setting {
    name  = "containerInsights"
    value = var.container_insights
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

################################################################################
# Task definition
################################################################################

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  # Keep replaced revisions ACTIVE: one may be the rollout's rollback target, and ECS
  # cannot start tasks from an INACTIVE revision.
  skip_destroy = true

  container_definitions = templatefile(var.container_definitions_template, {
    container_name    = var.container_name
    image             = local.image
    container_port    = var.container_port
    health_check_path = var.health_check_path
    stop_timeout      = var.stop_timeout
    log_group         = aws_cloudwatch_log_group.this.name
    region            = data.aws_region.current.region
    environment       = jsonencode([for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }])
    secrets           = jsonencode([for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }])
  })

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only; the service writes only here.
  volume {
    name = "tmp"
  }
}

################################################################################
# Service
################################################################################

resource "aws_security_group" "tasks" {
  name_prefix = "${var.name}-tasks-"
  description = "Tasks: the container port from the load balancer only; HTTPS out"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-tasks" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_lb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Traffic and health checks from the load balancer"
  referenced_security_group_id = var.lb_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

resource "aws_vpc_security_group_egress_rule" "tasks_out" {
  for_each = toset([for port in distinct(concat([443], var.egress_tcp_ports)) : tostring(port)])

  security_group_id = aws_security_group.tasks.id
  description       = each.key == "443" ? "HTTPS to the AWS endpoints and APIs" : "Qdrant (outside AWS, through NAT)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.key)
  to_port           = tonumber(each.key)
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.this.arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  # No ECS Exec, on purpose. Making it work would need writable agent paths in a read-only
  # container, `ssmmessages:*` on `*` for the task role (no resource-level permissions) and
  # ecs:ExecuteCommand for someone, for a shell beside the Qdrant secrets in the process
  # environment. Debugging goes through the logs, /ready, and a one-off task with the same
  # task definition (deploy/ingest.py shows the pattern).
  enable_execute_command        = false
  availability_zone_rebalancing = "ENABLED"
  enable_ecs_managed_tags       = true
  propagate_tags                = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # ROLLING replaces the tasks in place; BLUE_GREEN (ECS native, provider >= 6.4) starts the
  # new revision beside the old one behind the alternate target group, sends it the test
  # listener's traffic, calls the smoke hook at POST_TEST_TRAFFIC_SHIFT, and moves
  # production only when the hook answers SUCCEEDED (FAILED: ECS rolls back by itself).
  # The rollout reads the strategy from DescribeServices (deploymentConfiguration.strategy).
  deployment_configuration {
    strategy             = var.deployment_strategy
    bake_time_in_minutes = local.blue_green ? tostring(var.bake_time_in_minutes) : null

    # POST_TEST_TRAFFIC_SHIFT only: hooks on the traffic-shift stages run again during a
    # rollback (ECS developer guide, "Lifecycle hooks for Amazon ECS service deployments"),
    # and at this stage the new revision has all the test traffic and none of production.
    dynamic "lifecycle_hook" {
      for_each = local.blue_green ? [var.blue_green] : []

      content {
        hook_target_arn  = lifecycle_hook.value.hook_function_arn
        role_arn         = lifecycle_hook.value.hook_role_arn
        lifecycle_stages = ["POST_TEST_TRAFFIC_SHIFT"]
      }
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = var.container_name
    container_port   = var.container_port

    # With a Network Load Balancer the two "rules" are the listeners' ARNs (ECS API
    # reference, AdvancedConfiguration: "listener rule (in the case of an Application Load
    # Balancer) or listener (in the case for an Network Load Balancer)").
    dynamic "advanced_configuration" {
      for_each = local.blue_green ? [var.blue_green] : []

      content {
        alternate_target_group_arn = advanced_configuration.value.alternate_target_group_arn
        production_listener_rule   = advanced_configuration.value.production_listener_arn
        test_listener_rule         = advanced_configuration.value.test_listener_arn
        role_arn                   = advanced_configuration.value.infrastructure_role_arn
      }
    }
  }

  lifecycle {
    # The rollout (deploy/rollout.py) owns the image: it registers a revision with the new
    # image and points the service at it, so Terraform must not move the service back to
    # its own revision. Autoscaling owns the task count. Terraform's task-definition changes
    # reach the service with the next rollout (README: "Who owns the task definition").
    #
    # load_balancer: after each blue/green deployment ECS reports the group that now serves
    # production as target_group_arn and the other as the alternate. Terraform would "fix"
    # that on the next apply, and the provider sends the whole block again in UpdateService
    # (internal/service/ecs/service.go, resourceServiceUpdate: d.HasChange("load_balancer")
    # -> input.LoadBalancers), which starts a deployment with the roles swapped back:
    # terraform-provider-aws #45678, "Terraform triggered deployments do not alternate
    # target groups for ECS-managed blue/green". Decision: Terraform sets the block at
    # creation and never again; ECS owns which group is live. The ARNs it names are fixed
    # for the life of the environment. The cost: switching an existing service between
    # ROLLING and BLUE_GREEN needs the load balancer block sent once by hand (README,
    # "Blue/green deployments"); a new environment gets the right one at creation.
    ignore_changes = [task_definition, desired_count, load_balancer]

    precondition {
      condition     = local.blue_green == (var.blue_green != null)
      error_message = "deployment_strategy BLUE_GREEN needs blue_green (alternate target group, listeners, roles, hook); ROLLING takes none."
    }
  }
}

################################################################################
# Autoscaling
################################################################################

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  min_capacity       = var.desired_count
  max_capacity       = var.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
