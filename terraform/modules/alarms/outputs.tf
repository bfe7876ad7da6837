output "topic_arn" {
  description = "ARN of the SNS topic the alarms notify."
  value       = local.topic_arn
}

output "alarm_names" {
  description = "Names of the alarms."
  value = concat([
    aws_cloudwatch_metric_alarm.api_5xx_rate.alarm_name,
    aws_cloudwatch_metric_alarm.api_latency_p99.alarm_name,
    aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name,
    aws_cloudwatch_metric_alarm.ecs_running_below_desired.alarm_name,
  ], aws_cloudwatch_metric_alarm.unhealthy_hosts_alternate[*].alarm_name)
}
