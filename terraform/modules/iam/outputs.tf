output "task_execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.task_exec.arn
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = aws_iam_role.task.arn
}
