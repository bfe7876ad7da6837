locals {
  topic_arn = var.sns_topic_arn != null ? var.sns_topic_arn : aws_sns_topic.this[0].arn
}

################################################################################
# Where alarms go
################################################################################

module "kms" {
  count  = var.sns_topic_arn == null ? 1 : 0
  source = "../kms"

  alias              = "${var.name}-alarms"
  description        = "Alarm topic of ${var.name}"
  service_principals = ["cloudwatch.amazonaws.com"]
}

resource "aws_sns_topic" "this" {
  count = var.sns_topic_arn == null ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = module.kms[0].key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.sns_topic_arn == null ? toset(var.alarm_emails) : toset([])

  topic_arn = aws_sns_topic.this[0].arn
  protocol  = "email"
  endpoint  = each.value
}

################################################################################
# API Gateway
################################################################################

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${var.name}-api-5xx-rate"
  alarm_description   = "More than ${var.api_5xx_rate_threshold * 100}% of API requests answered 5XX for 5 minutes"
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  statistic           = "Average" # 5XXError is 0 or 1 per request: the average is the rate
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_threshold
  treat_missing_data  = "notBreaching"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage_name }
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "api_latency_p99" {
  alarm_name          = "${var.name}-api-latency-p99"
  alarm_description   = "API p99 latency above ${var.api_p99_latency_ms} ms for 10 minutes"
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_p99_latency_ms
  treat_missing_data  = "notBreaching"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage_name }
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
}

################################################################################
# Load balancer and ECS
################################################################################

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-nlb-unhealthy-hosts"
  alarm_description   = "At least one task fails the NLB health check (/health) for 3 minutes"
  namespace           = "AWS/NetworkELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching" # no targets at all is the running-tasks alarm's job
  dimensions          = { LoadBalancer = var.nlb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
}

# Blue/green: either target group serves production after a deployment, so each has its
# alarm (the idle one has no targets, hence no unhealthy host).
resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts_alternate" {
  count = var.blue_green ? 1 : 0

  alarm_name          = "${var.name}-nlb-unhealthy-hosts-alternate"
  alarm_description   = "At least one task in the blue/green alternate target group fails the NLB health check (/health) for 3 minutes"
  namespace           = "AWS/NetworkELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  dimensions          = { LoadBalancer = var.nlb_arn_suffix, TargetGroup = var.alternate_target_group_arn_suffix }
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "ecs_running_below_desired" {
  alarm_name          = "${var.name}-ecs-running-below-desired"
  alarm_description   = "Fewer tasks running than desired for 5 minutes (Container Insights)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  treat_missing_data  = "breaching"
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Desired minus running tasks"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      stat        = "Minimum"
      period      = 60
      dimensions  = { ClusterName = var.ecs_cluster_name, ServiceName = var.ecs_service_name }
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      stat        = "Minimum"
      period      = 60
      dimensions  = { ClusterName = var.ecs_cluster_name, ServiceName = var.ecs_service_name }
    }
  }
}
