output "function_arn" {
  description = "ARN of the smoke-hook function (the lifecycle hook's target)."
  value       = aws_lambda_function.smoke_hook.arn
}

output "function_name" {
  description = "Name of the smoke-hook function."
  value       = aws_lambda_function.smoke_hook.function_name
}

output "hook_invoke_role_arn" {
  description = "Role ECS assumes to invoke the hook (lifecycle_hook.role_arn)."
  value       = aws_iam_role.hook_invoke.arn
}

output "infrastructure_role_arn" {
  description = "Role ECS assumes to move traffic between the target groups (advanced_configuration.role_arn)."
  value       = aws_iam_role.infrastructure.arn
}

output "security_group_id" {
  description = "Security group of the hook function."
  value       = aws_security_group.smoke_hook.id
}

output "log_group_name" {
  description = "Log group of the hook function."
  value       = aws_cloudwatch_log_group.smoke_hook.name
}
