# The stack's contracts, checked by Terraform on a plan with a mock AWS provider (no
# credentials, no API calls): `make tf-test` here, and the same file on GitHub with the
# real provider's schema.

mock_provider "aws" {
  # Values the plan needs to be known (mock defaults are random strings, empty lists).
  override_during = plan

  mock_data "aws_availability_zones" {
    defaults = {
      names    = ["us-east-1a", "us-east-1b", "us-east-1c"]
      zone_ids = ["use1-az1", "use1-az2", "use1-az3"]
    }
  }
  # Every interface endpoint service offered in every zone (modules/network places each
  # endpoint only where its service is, and refuses a zone set that offers none).
  mock_data "aws_vpc_endpoint_service" {
    defaults = { availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_region" {
    defaults = { region = "us-east-1", name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  environment = "dev"
  repository  = "example-org/qa-service"
}

# Module internals are checked on the module itself, with the values the root module passes
# (main.tf: NLB :80 -> target group :8080 -> container :8080, liveness /health).

run "load_balancer_internal_nlb_ports_and_health_check" {
  command = plan
  module {
    source = "./modules/load_balancer"
  }
  variables {
    name              = "qa-service-dev"
    vpc_id            = "vpc-1"
    vpc_cidr          = "10.0.0.0/16"
    subnet_ids        = ["subnet-private-a", "subnet-private-b"]
    listener_port     = 80
    target_port       = 8080
    health_check_path = "/health"
  }

  assert {
    condition     = aws_lb.this.internal && aws_lb.this.load_balancer_type == "network"
    error_message = "The load balancer is an internal NLB."
  }
  assert {
    condition     = aws_lb.this.subnets == toset(["subnet-private-a", "subnet-private-b"])
    error_message = "The NLB is in the subnets it is given (the private ones) only."
  }
  assert {
    condition     = aws_lb_listener.this.port == 80 && aws_lb_target_group.this.port == 8080
    error_message = "Listener 80, targets 8080."
  }
  assert {
    condition     = one(aws_lb_target_group.this.health_check).path == "/health"
    error_message = "The target group checks /health."
  }
}

run "ecs_service_port_subnets_and_circuit_breaker" {
  command = plan
  module {
    source = "./modules/ecs"
  }
  variables {
    name                           = "qa-service-dev"
    container_definitions_template = "../.aws/task-definition.json"
    image_repository_url           = "111122223333.dkr.ecr.us-east-1.amazonaws.com/qa-service-dev"
    environment                    = { APP_NAME = "qa-service" }
    secrets = {
      QDRANT_URL     = "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/qdrant-url"
      QDRANT_API_KEY = "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/qdrant-api-key"
    }
    execution_role_arn   = "arn:aws:iam::111122223333:role/execution"
    task_role_arn        = "arn:aws:iam::111122223333:role/task"
    vpc_id               = "vpc-1"
    subnet_ids           = ["subnet-private-a", "subnet-private-b"]
    lb_security_group_id = "sg-lb"
    target_group_arn     = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/qa/1"
    logs_kms_key_arn     = "arn:aws:kms:us-east-1:111122223333:key/1"
    container_port       = 8080
    health_check_path    = "/health"
  }

  assert {
    condition     = one(aws_ecs_service.this.load_balancer).container_port == 8080
    error_message = "The service registers container port 8080 with the target group."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].containerPort == 8080
    error_message = "The container maps port 8080."
  }
  assert {
    condition     = one(aws_ecs_service.this.network_configuration).subnets == toset(["subnet-private-a", "subnet-private-b"])
    error_message = "The tasks run in the subnets given (the private ones)."
  }
  assert {
    condition     = one(aws_ecs_service.this.deployment_circuit_breaker).enable && one(aws_ecs_service.this.deployment_circuit_breaker).rollback
    error_message = "The deployment circuit breaker rolls back."
  }
}

run "api_keys_and_usage_plan" {
  command = plan
  module {
    source = "./modules/api_gateway"
  }
  variables {
    name                    = "qa-service-dev"
    stage_name              = "dev"
    nlb_arn                 = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/qa/1"
    nlb_dns_name            = "qa.elb.us-east-1.amazonaws.com"
    stream_timeout_ms       = 300000
    smoke_api_key_secret_id = "qa-service/dev/smoke-api-key"
    logs_kms_key_arn        = "arn:aws:kms:us-east-1:111122223333:key/1"
  }

  assert {
    condition     = aws_api_gateway_method.this["ask"].api_key_required && aws_api_gateway_method.this["ask_stream"].api_key_required
    error_message = "POST /ask and /ask/stream require an API key."
  }
  assert {
    condition     = !aws_api_gateway_method.this["health"].api_key_required
    error_message = "GET /health opens without a key."
  }
  assert {
    condition     = one(aws_api_gateway_usage_plan.this.api_stages).stage == "dev"
    error_message = "The usage plan is bound to the stage."
  }
}

run "ecr_immutable_and_scanned" {
  command = plan
  module {
    source = "./modules/ecr"
  }
  variables {
    name = "qa-service-dev"
  }

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "Image tags are immutable."
  }
  assert {
    condition     = one(aws_ecr_repository.this.image_scanning_configuration).scan_on_push
    error_message = "Images are scanned on push."
  }
}

run "outputs_the_workflows_read" {
  command = plan

  assert {
    condition     = output.ecs_cluster_name == "qa-service-dev" && output.ecs_service_name == "qa-service-dev"
    error_message = "The cluster and service are named <app>-<env>."
  }
}

# One run for the variables' validations: Terraform fails the run unless each listed
# variable's validation fails (a validation that stopped checking would fail the run).
run "variables_reject_bad_values" {
  command = plan
  variables {
    environment        = "staging"
    log_level          = "verbose"
    log_retention_days = 31
    extra_environment  = { QDRANT_API_KEY = "x" }
  }
  expect_failures = [
    var.environment,
    var.log_level,
    var.log_retention_days,
    var.extra_environment,
  ]
}
