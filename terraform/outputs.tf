# The workflows read these with `terraform output -json` (docs/architecture.md): names may grow, never
# silently change.

output "ecr_repository_url" {
  description = "ECR repository the release pushes `<sha>` tags to."
  value       = module.ecr.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the service."
  value       = module.ecs.cluster_name
}

output "ecs_service_name" {
  description = "ECS service the rollout updates."
  value       = module.ecs.service_name
}

output "ecs_task_definition_family" {
  description = "Task definition family; its latest revision is what Terraform last registered."
  value       = module.ecs.task_definition_family
}

output "ecs_container_name" {
  description = "Container whose image the rollout swaps."
  value       = module.ecs.container_name
}

output "api_invoke_url" {
  description = "Invoke URL of the API Gateway stage, ending in `/<stage>` (the smoke test's base URL)."
  value       = module.api_gateway.invoke_url
}

output "api_stage_url" {
  description = "The stage URL (same as api_invoke_url; kept as the name people look for)."
  value       = module.api_gateway.invoke_url
}

output "api_stage_name" {
  description = "Name of the API Gateway stage."
  value       = module.api_gateway.stage_name
}

output "smoke_api_key_secret_arn" {
  description = "Secret holding the smoke test's API key (the deploy role may read it)."
  value       = module.secrets.smoke_api_key_secret_arn
}

output "smoke_api_key_id" {
  description = "ID of the smoke-test API key."
  value       = module.api_gateway.smoke_api_key_id
}

output "client_api_key_id" {
  description = "ID of the clients' API key: `aws apigateway get-api-key --include-value --api-key <id>`."
  value       = module.api_gateway.client_api_key_id
}

output "qdrant_url_secret_arn" {
  description = "Secret `<app>/<env>/qdrant-url`."
  value       = module.secrets.qdrant_url_secret_arn
}

output "qdrant_api_key_secret_arn" {
  description = "Secret `<app>/<env>/qdrant-api-key`."
  value       = module.secrets.qdrant_api_key_secret_arn
}

output "documents_bucket_name" {
  description = "S3 bucket of the documents to ingest."
  value       = module.s3.bucket_name
}

output "private_subnet_ids" {
  description = "Private subnets (for a one-off ingestion task)."
  value       = module.network.private_subnet_ids
}

output "task_security_group_id" {
  description = "Security group of the tasks (for a one-off ingestion task)."
  value       = module.ecs.task_security_group_id
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.alarms.topic_arn
}

output "smoke_question" {
  description = "The smoke test's question (var.smoke_question; null: deploy.smoke's DEFAULT_QUESTION). deploy.smoke and deploy.rollout read it when --question is not given."
  value       = var.smoke_question
}
