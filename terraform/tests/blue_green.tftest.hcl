# ECS native blue/green (deployment_strategy), checked by Terraform on plans with a mock AWS
# provider: `make tf-test` here, the same file on GitHub. The rolling path stays as it was;
# the blue/green path wires the hook to POST_TEST_TRAFFIC_SHIFT only, the test listener to
# the alternate target group, and the invoke role to the one function.

mock_provider "aws" {
  # Values the plan needs to be known (mock defaults are random strings, empty lists).
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  environment = "dev"
  repository  = "example-org/qa-service"
  # Any file will do: the mock provider uploads nothing (make smoke-hook-zip builds the real one).
  smoke_hook_package = "tests/blue_green.tftest.hcl"
}

# --- the root module: what each strategy creates ---------------------------------------

run "rolling_creates_no_hook_and_no_alternate_group" {
  command = plan
  variables {
    deployment_strategy = "ROLLING"
  }

  assert {
    condition     = length(module.blue_green) == 0
    error_message = "ROLLING creates no smoke hook, no infrastructure role, no invoke role."
  }
  assert {
    condition     = module.load_balancer.alternate_target_group_arn == null && module.load_balancer.test_listener_arn == null
    error_message = "ROLLING has no alternate target group and no test listener."
  }
  assert {
    condition     = length(module.alarms.alarm_names) == 4
    error_message = "ROLLING: one target group, one unhealthy-hosts alarm."
  }
}

run "blue_green_creates_the_hook_the_test_listener_and_an_alarm_per_group" {
  command = plan
  variables {
    environment         = "prod"
    deployment_strategy = "BLUE_GREEN"
  }

  assert {
    condition     = length(module.blue_green) == 1
    error_message = "BLUE_GREEN creates modules/blue_green."
  }
  assert {
    condition     = module.load_balancer.test_listener_port == 9080
    error_message = "BLUE_GREEN: the test listener on 9080 (modules/load_balancer's runs below check its target)."
  }
  assert {
    condition     = contains(module.alarms.alarm_names, "qa-service-prod-nlb-unhealthy-hosts-alternate") && length(module.alarms.alarm_names) == 5
    error_message = "Either target group may serve production: each has its unhealthy-hosts alarm."
  }
}

run "deployment_strategy_is_rolling_or_blue_green" {
  command = plan
  variables {
    deployment_strategy = "CANARY"
  }
  expect_failures = [var.deployment_strategy]
}

# --- modules/ecs: the deployment configuration and the advanced load-balancer configuration

run "ecs_blue_green_hooks_post_test_traffic_shift_only" {
  command = plan
  module {
    source = "./modules/ecs"
  }
  variables {
    name                           = "qa-service-prod"
    container_definitions_template = "../.aws/task-definition.json"
    image_repository_url           = "111122223333.dkr.ecr.us-east-1.amazonaws.com/qa-service-prod"
    environment                    = {}
    secrets                        = {}
    execution_role_arn             = "arn:aws:iam::111122223333:role/qa-service-prod-task-exec"
    task_role_arn                  = "arn:aws:iam::111122223333:role/qa-service-prod-task"
    vpc_id                         = "vpc-1"
    subnet_ids                     = ["subnet-a", "subnet-b"]
    lb_security_group_id           = "sg-nlb"
    target_group_arn               = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa-service-prod/1"
    logs_kms_key_arn               = "arn:aws:kms:us-east-1:111122223333:key/1"
    deployment_strategy            = "BLUE_GREEN"
    bake_time_in_minutes           = 5
    blue_green = {
      alternate_target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa-service-prod-alt/2"
      production_listener_arn    = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/net/qa-service-prod/1/80"
      test_listener_arn          = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/net/qa-service-prod/1/9080"
      infrastructure_role_arn    = "arn:aws:iam::111122223333:role/qa-service-prod-ecs-infrastructure"
      hook_function_arn          = "arn:aws:lambda:us-east-1:111122223333:function:qa-service-prod-smoke-hook"
      hook_role_arn              = "arn:aws:iam::111122223333:role/qa-service-prod-smoke-hook-invoke"
    }
  }

  assert {
    condition     = one(aws_ecs_service.this.deployment_configuration).strategy == "BLUE_GREEN" && one(aws_ecs_service.this.deployment_configuration).bake_time_in_minutes == "5"
    error_message = "BLUE_GREEN with the configured bake time."
  }
  assert {
    condition = jsonencode([for h in one(aws_ecs_service.this.deployment_configuration).lifecycle_hook : h.lifecycle_stages]) == jsonencode([["POST_TEST_TRAFFIC_SHIFT"]])
    # Hooks on the traffic-shift stages run again during a rollback.
    error_message = "One lifecycle hook, at POST_TEST_TRAFFIC_SHIFT and no other stage."
  }
  assert {
    condition = alltrue([for h in one(aws_ecs_service.this.deployment_configuration).lifecycle_hook :
      h.hook_target_arn == "arn:aws:lambda:us-east-1:111122223333:function:qa-service-prod-smoke-hook" &&
    h.role_arn == "arn:aws:iam::111122223333:role/qa-service-prod-smoke-hook-invoke"])
    error_message = "The hook is the smoke-hook function, invoked through the hook-invoke role (not the infrastructure role)."
  }
  assert {
    condition = jsonencode([for lb in aws_ecs_service.this.load_balancer : one(lb.advanced_configuration)]) == jsonencode([{
      alternate_target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa-service-prod-alt/2"
      production_listener_rule   = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/net/qa-service-prod/1/80"
      test_listener_rule         = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/net/qa-service-prod/1/9080"
      role_arn                   = "arn:aws:iam::111122223333:role/qa-service-prod-ecs-infrastructure"
    }])
    error_message = "One load_balancer block: the alternate group, the two listeners (an NLB's \"rules\") and the infrastructure role."
  }
}

run "ecs_rolling_has_no_hook_and_no_advanced_configuration" {
  command = plan
  module {
    source = "./modules/ecs"
  }
  variables {
    name                           = "qa-service-dev"
    container_definitions_template = "../.aws/task-definition.json"
    image_repository_url           = "111122223333.dkr.ecr.us-east-1.amazonaws.com/qa-service-dev"
    environment                    = {}
    secrets                        = {}
    execution_role_arn             = "arn:aws:iam::111122223333:role/qa-service-dev-task-exec"
    task_role_arn                  = "arn:aws:iam::111122223333:role/qa-service-dev-task"
    vpc_id                         = "vpc-1"
    subnet_ids                     = ["subnet-a", "subnet-b"]
    lb_security_group_id           = "sg-nlb"
    target_group_arn               = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa-service-dev/1"
    logs_kms_key_arn               = "arn:aws:kms:us-east-1:111122223333:key/1"
  }

  assert {
    condition     = one(aws_ecs_service.this.deployment_configuration).strategy == "ROLLING" && length(one(aws_ecs_service.this.deployment_configuration).lifecycle_hook) == 0
    error_message = "ROLLING (the default) has no lifecycle hook."
  }
  assert {
    condition     = alltrue([for lb in aws_ecs_service.this.load_balancer : length(lb.advanced_configuration) == 0])
    error_message = "ROLLING has no advanced load-balancer configuration."
  }
}

run "ecs_blue_green_without_its_resources_is_refused" {
  command = plan
  module {
    source = "./modules/ecs"
  }
  variables {
    name                           = "qa-service-prod"
    container_definitions_template = "../.aws/task-definition.json"
    image_repository_url           = "111122223333.dkr.ecr.us-east-1.amazonaws.com/qa-service-prod"
    environment                    = {}
    secrets                        = {}
    execution_role_arn             = "arn:aws:iam::111122223333:role/qa-service-prod-task-exec"
    task_role_arn                  = "arn:aws:iam::111122223333:role/qa-service-prod-task"
    vpc_id                         = "vpc-1"
    subnet_ids                     = ["subnet-a", "subnet-b"]
    lb_security_group_id           = "sg-nlb"
    target_group_arn               = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa-service-prod/1"
    logs_kms_key_arn               = "arn:aws:kms:us-east-1:111122223333:key/1"
    deployment_strategy            = "BLUE_GREEN"
  }
  expect_failures = [aws_ecs_service.this]
}

# --- modules/load_balancer: the test listener and the alternate target group ------------

run "test_listener_forwards_to_the_alternate_group_from_the_vpc_only" {
  command = plan
  module {
    source = "./modules/load_balancer"
  }
  variables {
    name               = "qa-service-prod"
    vpc_id             = "vpc-1"
    vpc_cidr           = "10.0.0.0/16"
    subnet_ids         = ["subnet-private-a", "subnet-private-b"]
    test_listener_port = 9080
  }
  # Known ARNs at plan time, one per group, so that "forwards to" can tell them apart.
  override_resource {
    target          = aws_lb_target_group.this
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa-service-prod/primary" }
  }
  override_resource {
    target          = aws_lb_target_group.alternate[0]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa-service-prod-alt/alternate" }
  }

  assert {
    condition     = aws_lb_listener.test[0].port == 9080 && aws_lb_listener.test[0].protocol == "TCP"
    error_message = "The test listener is TCP 9080."
  }
  assert {
    condition     = one(aws_lb_listener.test[0].default_action).target_group_arn == aws_lb_target_group.alternate[0].arn
    error_message = "The test listener forwards to the alternate target group."
  }
  assert {
    condition     = one(aws_lb_listener.this.default_action).target_group_arn == aws_lb_target_group.this.arn
    error_message = "Production (80) starts on the primary group."
  }
  assert {
    condition = (aws_vpc_security_group_ingress_rule.test_listener[0].cidr_ipv4 == "10.0.0.0/16" &&
      aws_vpc_security_group_ingress_rule.test_listener[0].from_port == 9080 &&
    aws_vpc_security_group_ingress_rule.test_listener[0].to_port == 9080)
    error_message = "The test port is open from the VPC's CIDR only."
  }
  assert {
    condition = (aws_lb_target_group.alternate[0].name == "qa-service-prod-alt" &&
      aws_lb_target_group.alternate[0].port == aws_lb_target_group.this.port &&
    one(aws_lb_target_group.alternate[0].health_check).path == one(aws_lb_target_group.this.health_check).path)
    error_message = "The alternate group matches the primary one (either may serve production)."
  }
}

run "load_balancer_without_test_port_has_no_blue_green_resources" {
  command = plan
  module {
    source = "./modules/load_balancer"
  }
  variables {
    name       = "qa-service-dev"
    vpc_id     = "vpc-1"
    vpc_cidr   = "10.0.0.0/16"
    subnet_ids = ["subnet-private-a", "subnet-private-b"]
  }

  assert {
    condition     = length(aws_lb_listener.test) == 0 && length(aws_lb_target_group.alternate) == 0 && length(aws_vpc_security_group_ingress_rule.test_listener) == 0
    error_message = "No test listener, alternate group or test-port rule without test_listener_port."
  }
}

# --- modules/blue_green: the hook, its roles ---------------------------------------------

run "hook_invoke_role_names_only_the_one_function" {
  command = plan
  module {
    source = "./modules/blue_green"
  }
  variables {
    name               = "qa-service-prod"
    vpc_id             = "vpc-1"
    vpc_cidr           = "10.0.0.0/16"
    subnet_ids         = ["subnet-private-a", "subnet-private-b"]
    test_url           = "http://internal-qa-service-prod.elb.us-east-1.amazonaws.com:9080"
    test_listener_port = 9080
    package            = "tests/blue_green.tftest.hcl"
    logs_kms_key_arn   = "arn:aws:kms:us-east-1:111122223333:key/1"
    log_retention_days = 365
    load_balancer = {
      target_group_arns = ["arn:tg-primary", "arn:tg-alternate"]
      listener_arns     = ["arn:listener-80", "arn:listener-9080"]
    }
    permissions_boundary_arn = "arn:aws:iam::111122223333:policy/qa-service-prod-workload-boundary"
  }
  override_resource {
    target          = aws_lambda_function.smoke_hook
    override_during = plan
    values          = { arn = "arn:aws:lambda:us-east-1:111122223333:function:qa-service-prod-smoke-hook" }
  }
  override_resource {
    target          = aws_security_group.smoke_hook
    override_during = plan
    values          = { id = "sg-smoke-hook" }
  }

  assert {
    condition = (length(data.aws_iam_policy_document.hook_invoke.statement) == 1 &&
      toset(data.aws_iam_policy_document.hook_invoke.statement[0].actions) == toset(["lambda:InvokeFunction"]) &&
    toset(data.aws_iam_policy_document.hook_invoke.statement[0].resources) == toset(["arn:aws:lambda:us-east-1:111122223333:function:qa-service-prod-smoke-hook"]))
    error_message = "The invoke role may call lambda:InvokeFunction on the smoke hook and nothing else."
  }
  assert {
    condition     = [for p in data.aws_iam_policy_document.ecs_assume.statement[0].principals : p.identifiers] == [toset(["ecs.amazonaws.com"])]
    error_message = "ECS assumes the invoke and infrastructure roles."
  }
  assert {
    condition = (toset(data.aws_iam_policy_document.infrastructure.statement[1].resources) == toset(["arn:tg-primary", "arn:tg-alternate"]) &&
    toset(data.aws_iam_policy_document.infrastructure.statement[2].resources) == toset(["arn:listener-80", "arn:listener-9080"]))
    error_message = "The infrastructure role registers targets in the two groups and modifies the two listeners only."
  }
  assert {
    condition = (one(aws_lambda_function.smoke_hook.vpc_config).subnet_ids == toset(["subnet-private-a", "subnet-private-b"]) &&
    one(aws_lambda_function.smoke_hook.vpc_config).security_group_ids == toset(["sg-smoke-hook"]))
    error_message = "The hook runs in the private subnets with its own security group."
  }
  assert {
    condition     = aws_lambda_function.smoke_hook.reserved_concurrent_executions == 2 && aws_lambda_function.smoke_hook.handler == "deploy.smoke_hook.handler"
    error_message = "Reserved concurrency, and the handler of the interface (deploy.smoke_hook.handler)."
  }
  assert {
    condition     = one(aws_lambda_function.smoke_hook.environment).variables.TEST_URL == "http://internal-qa-service-prod.elb.us-east-1.amazonaws.com:9080"
    error_message = "TEST_URL is the test listener's URL."
  }
  assert {
    condition = (aws_cloudwatch_log_group.smoke_hook.name == "/aws/lambda/qa-service-prod-smoke-hook" &&
      aws_cloudwatch_log_group.smoke_hook.retention_in_days == 365 &&
    aws_cloudwatch_log_group.smoke_hook.kms_key_id == "arn:aws:kms:us-east-1:111122223333:key/1")
    error_message = "The hook's log group has the retention and the logs key, like every other."
  }
  assert {
    condition     = aws_iam_role.smoke_hook.permissions_boundary == "arn:aws:iam::111122223333:policy/qa-service-prod-workload-boundary" && aws_iam_role.hook_invoke.permissions_boundary == aws_iam_role.smoke_hook.permissions_boundary && aws_iam_role.infrastructure.permissions_boundary == aws_iam_role.smoke_hook.permissions_boundary
    error_message = "Every role carries the environment's permissions boundary."
  }
}

run "hook_without_its_package_says_how_to_build_it" {
  command = plan
  module {
    source = "./modules/blue_green"
  }
  variables {
    name               = "qa-service-prod"
    vpc_id             = "vpc-1"
    vpc_cidr           = "10.0.0.0/16"
    subnet_ids         = ["subnet-private-a", "subnet-private-b"]
    test_url           = "http://internal-qa-service-prod.elb.us-east-1.amazonaws.com:9080"
    test_listener_port = 9080
    package            = "../.build/no-such-package.zip"
    logs_kms_key_arn   = "arn:aws:kms:us-east-1:111122223333:key/1"
    load_balancer = {
      target_group_arns = ["arn:tg-primary", "arn:tg-alternate"]
      listener_arns     = ["arn:listener-80", "arn:listener-9080"]
    }
    permissions_boundary_arn = "arn:aws:iam::111122223333:policy/qa-service-prod-workload-boundary"
  }
  expect_failures = [aws_lambda_function.smoke_hook]
}
