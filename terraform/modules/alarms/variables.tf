variable "name" {
  description = "Name prefix of the alarms and topic, e.g. `qa-service-dev`."
  type        = string
}

variable "sns_topic_arn" {
  description = "Existing SNS topic the alarms notify; `null` creates an encrypted topic here."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the created topic (each confirms by mail)."
  type        = list(string)
  default     = []
}

variable "api_name" {
  description = "Name of the REST API (CloudWatch dimension `ApiName`)."
  type        = string
}

variable "api_stage_name" {
  description = "Name of the stage (CloudWatch dimension `Stage`)."
  type        = string
}

variable "api_5xx_rate_threshold" {
  description = "Share of API requests answered 5XX (0-1) above which the alarm fires."
  type        = number
  default     = 0.05

  validation {
    condition     = var.api_5xx_rate_threshold > 0 && var.api_5xx_rate_threshold < 1
    error_message = "api_5xx_rate_threshold is a fraction between 0 and 1."
  }
}

variable "api_p99_latency_ms" {
  description = "API p99 latency in milliseconds above which the alarm fires."
  type        = number
  default     = 10000
}

variable "nlb_arn_suffix" {
  description = "ARN suffix of the NLB (CloudWatch dimension `LoadBalancer`)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the target group (CloudWatch dimension `TargetGroup`)."
  type        = string
}

variable "blue_green" {
  description = "Whether the service deploys blue/green: the alternate target group gets its own unhealthy-hosts alarm (a bool, so the count is known at plan time)."
  type        = bool
  default     = false
}

variable "alternate_target_group_arn_suffix" {
  description = "ARN suffix of the blue/green alternate target group (CloudWatch dimension `TargetGroup`); `null` for a rolling service."
  type        = string
  default     = null
}

variable "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  type        = string
}

variable "ecs_service_name" {
  description = "Name of the ECS service."
  type        = string
}
