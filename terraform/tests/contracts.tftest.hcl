# The stack's contracts, checked by Terraform on a plan with a mock AWS provider (no
# credentials, no API calls): `make tf-test` here, and the same file on GitHub with the
# real provider's schema.

mock_provider "aws" {
  # Values the plan needs to be known (mock defaults are random strings, empty lists).
  override_during = plan
  source          = "./tests/mocks"
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
    # Required in the module: their defaults live in the root's variables.tf only.
    nlb_listener_port          = 80
    stage_throttle_rate_limit  = 50
    stage_throttle_burst_limit = 100
    usage_plan_rate_limit      = 10
    usage_plan_burst_limit     = 20
    usage_plan_quota_limit     = 100000
    usage_plan_quota_period    = "MONTH"
    api_key_generation         = 1
    waf_enabled                = true
    waf_rate_limit             = 1000
    log_retention_days         = 365
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

# The NAT gateways take the Elastic IPs' allocation IDs, one address per gateway. For
# aws_eip the ID is the allocation ID (the provider sets it from AllocateAddress's
# AllocationId: internal/service/ec2/ec2_eip.go), so `.id` is right and `.public_ip`, or
# one address for every gateway, is the mistake this run catches.
run "network_nat_gateways_use_their_own_elastic_ip" {
  command = plan
  module {
    source = "./modules/network"
  }
  variables {
    name                     = "qa-service-prod"
    az_count                 = 2
    single_nat_gateway       = false
    logs_kms_key_arn         = "arn:aws:kms:us-east-1:111122223333:key/1"
    permissions_boundary_arn = "arn:aws:iam::111122223333:policy/boundary"
  }
  override_resource {
    target          = aws_eip.nat[0]
    override_during = plan
    values          = { id = "eipalloc-0a", allocation_id = "eipalloc-0a", public_ip = "198.51.100.10" }
  }
  override_resource {
    target          = aws_eip.nat[1]
    override_during = plan
    values          = { id = "eipalloc-0b", allocation_id = "eipalloc-0b", public_ip = "198.51.100.11" }
  }

  assert {
    condition     = aws_nat_gateway.this[*].allocation_id == ["eipalloc-0a", "eipalloc-0b"]
    error_message = "Each NAT gateway takes the allocation ID of its own Elastic IP."
  }
}

# The root module's wiring into the task definition, rendered by Terraform from
# .aws/task-definition.json. The overrides give the computed ARNs and URL fixed, independent
# values, so a swapped pair of secrets or roles shows as a wrong literal here.
run "task_definition_gets_its_roles_secrets_and_settings" {
  command = plan

  override_resource {
    target          = module.iam.aws_iam_role.task_exec
    override_during = plan
    values          = { arn = "arn:aws:iam::111122223333:role/qa-service-dev-task-exec" }
  }
  override_resource {
    target          = module.iam.aws_iam_role.task
    override_during = plan
    values          = { arn = "arn:aws:iam::111122223333:role/qa-service-dev-task" }
  }
  override_resource {
    target          = module.secrets.aws_secretsmanager_secret.this["qdrant-url"]
    override_during = plan
    values          = { arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/qdrant-url-AbCdEf" }
  }
  override_resource {
    target          = module.secrets.aws_secretsmanager_secret.this["qdrant-api-key"]
    override_during = plan
    values          = { arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/qdrant-api-key-AbCdEf" }
  }
  override_resource {
    target          = module.secrets.aws_secretsmanager_secret.this["smoke-api-key"]
    override_during = plan
    values          = { arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/smoke-api-key-AbCdEf" }
  }
  override_resource {
    target          = module.ecr.aws_ecr_repository.this
    override_during = plan
    values          = { repository_url = "111122223333.dkr.ecr.us-east-1.amazonaws.com/qa-service-dev" }
  }
  override_resource {
    target          = module.api_gateway.aws_api_gateway_stage.this
    override_during = plan
    values          = { invoke_url = "https://abc123.execute-api.us-east-1.amazonaws.com/dev" }
  }

  assert {
    condition     = module.ecs.task_execution_role_arn == "arn:aws:iam::111122223333:role/qa-service-dev-task-exec"
    error_message = "The execution role (image pull, secrets, logs) is the task definition's execution role."
  }
  assert {
    condition     = module.ecs.task_role_arn == "arn:aws:iam::111122223333:role/qa-service-dev-task"
    error_message = "The task role (Bedrock, documents) is the task definition's task role."
  }
  assert {
    condition = { for s in module.ecs.container_definition.secrets : s.name => s.valueFrom } == {
      QDRANT_URL     = "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/qdrant-url-AbCdEf"
      QDRANT_API_KEY = "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/qdrant-api-key-AbCdEf"
    }
    error_message = "QDRANT_URL comes from the qdrant-url secret and QDRANT_API_KEY from the qdrant-api-key secret, and nothing else is a secret."
  }
  assert {
    condition     = length(setintersection([for e in module.ecs.container_definition.environment : e.name], [for s in module.ecs.container_definition.secrets : s.name])) == 0
    error_message = "A secret is never also plain environment."
  }
  assert {
    condition     = module.ecs.container_definition.image == "111122223333.dkr.ecr.us-east-1.amazonaws.com/qa-service-dev:initial"
    error_message = "The first image is the stack's own repository's (the rollout owns it afterwards)."
  }
  assert {
    condition     = module.ecs.container_definition.portMappings[*].containerPort == [8080]
    error_message = "The container maps port 8080 only."
  }
  assert {
    condition     = strcontains(join(" ", module.ecs.container_definition.healthCheck.command), "http://127.0.0.1:8080/health")
    error_message = "The container's health check asks /health on port 8080."
  }
  assert {
    condition = (
      module.ecs.container_definition.logConfiguration.logDriver == "awslogs" &&
      module.ecs.container_definition.logConfiguration.options["awslogs-group"] == "/ecs/qa-service-dev" &&
      module.ecs.container_definition.logConfiguration.options["awslogs-region"] == "us-east-1"
    )
    error_message = "The container logs to /ecs/qa-service-dev in the stack's region."
  }
  assert {
    condition = (
      module.ecs.container_definition.user == "10001:10001" &&
      module.ecs.container_definition.readonlyRootFilesystem &&
      !module.ecs.container_definition.privileged
    )
    error_message = "The container runs non-root, unprivileged, on a read-only root filesystem."
  }
  assert {
    condition     = output.ecr_repository_url == "111122223333.dkr.ecr.us-east-1.amazonaws.com/qa-service-dev"
    error_message = "ecr_repository_url is the stack's repository (the workflows push there)."
  }
  assert {
    condition     = output.api_invoke_url == "https://abc123.execute-api.us-east-1.amazonaws.com/dev" && output.api_stage_url == output.api_invoke_url
    error_message = "api_invoke_url is the stage's invoke URL (the smoke test calls it)."
  }
  assert {
    condition     = output.smoke_api_key_secret_arn == "arn:aws:secretsmanager:us-east-1:111122223333:secret:qa-service/dev/smoke-api-key-AbCdEf"
    error_message = "smoke_api_key_secret_arn is the smoke-api-key secret (the smoke test reads it)."
  }
}

run "secrets_are_named_by_contract" {
  command = plan
  module {
    source = "./modules/secrets"
  }
  variables {
    name        = "qa-service-dev"
    app_name    = "qa-service"
    environment = "dev"
  }

  assert {
    condition     = { for k, s in aws_secretsmanager_secret.this : k => s.name } == { "qdrant-url" = "qa-service/dev/qdrant-url", "qdrant-api-key" = "qa-service/dev/qdrant-api-key", "smoke-api-key" = "qa-service/dev/smoke-api-key" }
    error_message = "Each secret is named <app>/<env>/<its key> (qdrant-url, qdrant-api-key, smoke-api-key): the root module's overrides name them by key."
  }
}

run "private_bucket_is_encrypted_with_the_callers_key_and_tls_only" {
  command = plan
  module {
    source = "./modules/private_bucket"
  }
  variables {
    bucket                             = "qa-service-dev-documents-111122223333"
    kms_key_arn                        = "arn:aws:kms:us-east-1:111122223333:key/documents"
    noncurrent_version_expiration_days = 30
  }
  override_resource {
    target          = aws_s3_bucket.this
    override_during = plan
    values          = { arn = "arn:aws:s3:::qa-service-dev-documents-111122223333" }
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == "arn:aws:kms:us-east-1:111122223333:key/documents"
    error_message = "The bucket is encrypted with the key its caller passes."
  }
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement : s.effect == "Deny" && contains(s.actions, "s3:*") &&
      toset(s.resources) == toset(["arn:aws:s3:::qa-service-dev-documents-111122223333", "arn:aws:s3:::qa-service-dev-documents-111122223333/*"]) &&
      anytrue([for c in s.condition : c.variable == "aws:SecureTransport" && c.values == tolist(["false"])])
    ])
    error_message = "The bucket policy denies every request not made over TLS, on the bucket and its objects."
  }
}
