output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_family" {
  description = "Family of the task definition Terraform registers."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the latest revision Terraform registered (not necessarily the one running)."
  value       = aws_ecs_task_definition.this.arn
}

output "container_name" {
  description = "Name of the container whose image the rollout swaps."
  value       = var.container_name
}

output "log_group_name" {
  description = "Log group of the service."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the service's log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "task_security_group_id" {
  description = "Security group of the tasks (also for one-off ingestion tasks)."
  value       = aws_security_group.tasks.id
}

# What the task definition is given, as Terraform renders it: terraform/tests checks the
# root module's wiring on these (roles not swapped, each secret in its own variable).
output "task_execution_role_arn" {
  description = "Execution role of the task definition (pulls the image, reads the secrets)."
  value       = aws_ecs_task_definition.this.execution_role_arn
}

output "task_role_arn" {
  description = "Task role of the task definition (the service's own AWS calls)."
  value       = aws_ecs_task_definition.this.task_role_arn
}

output "container_definition" {
  description = "The service's container definition, rendered from the template."
  value       = jsondecode(aws_ecs_task_definition.this.container_definitions)[0]
}
