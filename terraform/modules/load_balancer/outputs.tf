output "arn" {
  description = "ARN of the load balancer (the VPC link target)."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "Private DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "listener_port" {
  description = "Port of the listener."
  value       = aws_lb_listener.this.port
}

output "target_group_arn" {
  description = "ARN of the target group the ECS service registers into; known only once the listener forwards to it."
  value       = aws_lb_target_group.this.arn

  # CreateService refuses a target group that no listener uses yet ("The target group ...
  # does not have an associated load balancer"); the service reads this output, so it waits.
  depends_on = [aws_lb_listener.this]
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (CloudWatch dimension)."
  value       = aws_lb_target_group.this.arn_suffix
}

output "security_group_id" {
  description = "Security group of the load balancer (the only source allowed into the tasks)."
  value       = aws_security_group.this.id
}

output "listener_arn" {
  description = "ARN of the production listener (ECS blue/green: production_listener_rule; an NLB takes the listener's ARN)."
  value       = aws_lb_listener.this.arn
}

output "alternate_target_group_arn" {
  description = "ARN of the blue/green alternate target group; null for a rolling service. Known only once the test listener forwards to it."
  value       = local.blue_green ? aws_lb_target_group.alternate[0].arn : null

  # As for target_group_arn: ECS refuses a target group no listener uses yet.
  depends_on = [aws_lb_listener.test]
}

output "alternate_target_group_arn_suffix" {
  description = "ARN suffix of the alternate target group (CloudWatch dimension); null for a rolling service."
  value       = local.blue_green ? aws_lb_target_group.alternate[0].arn_suffix : null
}

output "test_listener_arn" {
  description = "ARN of the blue/green test listener (test_listener_rule); null for a rolling service."
  value       = local.blue_green ? aws_lb_listener.test[0].arn : null
}

output "test_listener_port" {
  description = "Port of the test listener; null for a rolling service."
  value       = local.blue_green ? aws_lb_listener.test[0].port : null
}
