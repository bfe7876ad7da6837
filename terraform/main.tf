data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name    = "${var.app_name}-${var.environment}"
  is_prod = var.environment == "prod"

  # ECS native blue/green (modules/blue_green, deployment_strategy).
  blue_green = var.deployment_strategy == "BLUE_GREEN"
  # The smoke hook's package: relative paths are from this directory (terraform/).
  smoke_hook_package = startswith(var.smoke_hook_package, "/") ? var.smoke_hook_package : "${path.root}/${var.smoke_hook_package}"

  # Every role this stack creates carries the environment's fixed permissions boundary: the
  # apply role may create no role without it (terraform/bootstrap/boundary.tf names it).
  permissions_boundary_arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/${local.name}-workload-boundary"

  # Contract (docs/architecture.md): NLB :80 -> target group :8080 -> container :8080, liveness /health.
  container_port    = 8080
  listener_port     = 80
  health_check_path = "/health"

  # Settings the service reads (app/config.py); empty values are left out so the service
  # keeps its own default (e.g. no BEDROCK_MODEL_ID = the extractive answerer).
  app_environment = {
    for k, v in merge(var.extra_environment, {
      APP_NAME                   = var.app_name
      ENVIRONMENT                = var.environment
      AWS_REGION                 = var.aws_region
      LOG_LEVEL                  = var.log_level
      QDRANT_COLLECTION          = var.qdrant_collection
      BEDROCK_EMBEDDING_MODEL_ID = var.bedrock_embedding_model_id
      BEDROCK_MODEL_ID           = var.bedrock_model_id
      BEDROCK_MAX_TOKENS         = tostring(var.bedrock_max_tokens)
      BEDROCK_RERANK_MODEL_ID    = var.bedrock_rerank_model_id
      BEDROCK_GUARDRAIL_ID       = var.bedrock_guardrail_id
      BEDROCK_GUARDRAIL_VERSION  = var.bedrock_guardrail_version
    }) : k => v if v != null && v != ""
  }
}

################################################################################
# Encryption of every log group (flow logs, service, API access, WAF)
################################################################################

module "logs_kms" {
  source = "./modules/kms"

  alias              = "${local.name}-logs"
  description        = "CloudWatch log groups of ${local.name}"
  service_principals = ["logs.${var.aws_region}.amazonaws.com"]
  service_conditions = [{
    test     = "ArnLike"
    variable = "kms:EncryptionContext:aws:logs:arn"
    values   = ["arn:${data.aws_partition.current.partition}:logs:${var.aws_region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
  }]
}

################################################################################
# Network
################################################################################

module "network" {
  source = "./modules/network"

  name                     = local.name
  cidr                     = var.vpc_cidr
  az_count                 = var.az_count
  single_nat_gateway       = var.single_nat_gateway
  interface_endpoints      = var.vpc_interface_endpoints
  permissions_boundary_arn = local.permissions_boundary_arn
  logs_kms_key_arn         = module.logs_kms.key_arn
  log_retention_days       = var.log_retention_days
}

################################################################################
# Image, secrets, documents
################################################################################

module "ecr" {
  source = "./modules/ecr"

  name         = local.name
  keep_images  = var.ecr_keep_images
  force_delete = !local.is_prod
}

module "secrets" {
  source = "./modules/secrets"

  name                    = local.name
  app_name                = var.app_name
  environment             = var.environment
  recovery_window_in_days = var.secret_recovery_window_days
}

module "s3" {
  source = "./modules/s3"

  name                               = local.name
  noncurrent_version_expiration_days = var.documents_noncurrent_version_expiration_days
  force_destroy                      = !local.is_prod
}

################################################################################
# Load balancer, IAM, ECS
################################################################################

module "load_balancer" {
  source = "./modules/load_balancer"

  name                = local.name
  vpc_id              = module.network.vpc_id
  vpc_cidr            = module.network.vpc_cidr
  subnet_ids          = module.network.private_subnet_ids
  listener_port       = local.listener_port
  target_port         = local.container_port
  health_check_path   = local.health_check_path
  deletion_protection = local.is_prod
  test_listener_port  = local.blue_green ? var.test_listener_port : null
}

# ECS's infrastructure role, the smoke hook and the role ECS invokes it through.
module "blue_green" {
  source = "./modules/blue_green"
  count  = local.blue_green ? 1 : 0

  name               = local.name
  vpc_id             = module.network.vpc_id
  vpc_cidr           = module.network.vpc_cidr
  subnet_ids         = module.network.private_subnet_ids
  test_url           = "http://${module.load_balancer.dns_name}:${var.test_listener_port}"
  test_listener_port = var.test_listener_port
  package            = local.smoke_hook_package
  smoke_question     = var.smoke_question
  load_balancer = {
    target_group_arns = [module.load_balancer.target_group_arn, module.load_balancer.alternate_target_group_arn]
    listener_arns     = [module.load_balancer.listener_arn, module.load_balancer.test_listener_arn]
  }
  permissions_boundary_arn = local.permissions_boundary_arn
  logs_kms_key_arn         = module.logs_kms.key_arn
  log_retention_days       = var.log_retention_days
}

# The model ids are the only model input; the ARNs the task role may invoke follow from them
# and from the caller's account and partition.
module "bedrock_access" {
  source = "./modules/bedrock_access"

  partition            = data.aws_partition.current.partition
  account_id           = data.aws_caller_identity.current.account_id
  region               = var.aws_region
  answer_model_id      = var.bedrock_model_id
  answer_model_regions = var.bedrock_model_regions
  embedding_model_id   = var.bedrock_embedding_model_id
  guardrail_id         = var.bedrock_guardrail_id
  rerank_model_id      = var.bedrock_rerank_model_id
}

module "iam" {
  source = "./modules/iam"

  name                           = local.name
  permissions_boundary_arn       = local.permissions_boundary_arn
  ecr_repository_arn             = module.ecr.repository_arn
  log_group_arn                  = module.ecs.log_group_arn
  secret_arns                    = [module.secrets.qdrant_url_secret_arn, module.secrets.qdrant_api_key_secret_arn]
  secrets_kms_key_arn            = module.secrets.kms_key_arn
  bedrock_model_arns             = module.bedrock_access.foundation_model_arns
  bedrock_inference_profile_arns = module.bedrock_access.inference_profile_arns
  bedrock_guardrail_arns         = module.bedrock_access.guardrail_arns
  bedrock_rerank_model_arns      = module.bedrock_access.rerank_model_arns
  documents_bucket_arn           = module.s3.bucket_arn
  documents_kms_key_arn          = module.s3.kms_key_arn
}

module "ecs" {
  source = "./modules/ecs"

  name                           = local.name
  container_definitions_template = "${path.module}/../.aws/task-definition.json"
  container_port                 = local.container_port
  health_check_path              = local.health_check_path
  image_repository_url           = module.ecr.repository_url
  image_tag                      = var.image_tag
  environment                    = local.app_environment
  secrets = {
    QDRANT_URL     = module.secrets.qdrant_url_secret_arn
    QDRANT_API_KEY = module.secrets.qdrant_api_key_secret_arn
  }
  task_cpu             = var.task_cpu
  task_memory          = var.task_memory
  execution_role_arn   = module.iam.task_execution_role_arn
  task_role_arn        = module.iam.task_role_arn
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  lb_security_group_id = module.load_balancer.security_group_id
  egress_tcp_ports     = [var.qdrant_port]
  target_group_arn     = module.load_balancer.target_group_arn
  desired_count        = var.desired_count
  max_count            = var.max_count
  log_retention_days   = var.log_retention_days
  logs_kms_key_arn     = module.logs_kms.key_arn

  deployment_strategy  = var.deployment_strategy
  bake_time_in_minutes = var.bake_time_in_minutes
  blue_green = local.blue_green ? {
    alternate_target_group_arn = module.load_balancer.alternate_target_group_arn
    production_listener_arn    = module.load_balancer.listener_arn
    test_listener_arn          = module.load_balancer.test_listener_arn
    infrastructure_role_arn    = module.blue_green[0].infrastructure_role_arn
    hook_function_arn          = module.blue_green[0].function_arn
    hook_role_arn              = module.blue_green[0].hook_invoke_role_arn
  } : null
}

################################################################################
# API Gateway
################################################################################

module "api_gateway" {
  source = "./modules/api_gateway"

  name                       = local.name
  stage_name                 = var.environment
  nlb_arn                    = module.load_balancer.arn
  nlb_dns_name               = module.load_balancer.dns_name
  nlb_listener_port          = module.load_balancer.listener_port
  stream_timeout_ms          = var.api_stream_timeout_ms
  stage_throttle_rate_limit  = var.stage_throttle_rate_limit
  stage_throttle_burst_limit = var.stage_throttle_burst_limit
  usage_plan_rate_limit      = var.usage_plan_rate_limit
  usage_plan_burst_limit     = var.usage_plan_burst_limit
  usage_plan_quota_limit     = var.usage_plan_quota_limit
  usage_plan_quota_period    = var.usage_plan_quota_period
  api_key_generation         = var.api_key_generation
  smoke_api_key_secret_id    = module.secrets.smoke_api_key_secret_id
  waf_enabled                = var.waf_enabled
  waf_rate_limit             = var.waf_rate_limit
  log_retention_days         = var.log_retention_days
  logs_kms_key_arn           = module.logs_kms.key_arn
}

################################################################################
# Alarms
################################################################################

module "alarms" {
  source = "./modules/alarms"

  name                    = local.name
  sns_topic_arn           = var.alarm_sns_topic_arn
  alarm_emails            = var.alarm_emails
  api_name                = local.name
  api_stage_name          = module.api_gateway.stage_name
  api_5xx_rate_threshold  = var.api_5xx_rate_threshold
  api_p99_latency_ms      = var.api_p99_latency_ms
  nlb_arn_suffix          = module.load_balancer.arn_suffix
  target_group_arn_suffix = module.load_balancer.target_group_arn_suffix
  # One alarm per target group: with blue/green either one serves production.
  blue_green                        = local.blue_green
  alternate_target_group_arn_suffix = module.load_balancer.alternate_target_group_arn_suffix
  ecs_cluster_name                  = module.ecs.cluster_name
  ecs_service_name                  = module.ecs.service_name
}
