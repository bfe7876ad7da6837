variable "name" {
  description = "Name of the API, VPC link, usage plan and keys, e.g. `qa-service-dev`."
  type        = string
}

variable "stage_name" {
  description = "Stage name: the first path segment of the invoke URL."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_]{1,128}$", var.stage_name))
    error_message = "stage_name may hold letters, digits and `_`."
  }
}

variable "nlb_arn" {
  description = "ARN of the internal NLB the VPC link targets."
  type        = string
}

variable "nlb_dns_name" {
  description = "DNS name of the NLB (the integrations' host)."
  type        = string
}

variable "nlb_listener_port" {
  description = "Port of the NLB listener the integrations call."
  type        = number
}

variable "integration_timeout_ms" {
  description = "Integration timeout of `/`, `/health` and `/ask` in milliseconds (50-29000 without a quota increase)."
  type        = number
  default     = 29000

  validation {
    condition     = var.integration_timeout_ms >= 50 && var.integration_timeout_ms <= 29000
    error_message = "integration_timeout_ms must be between 50 and 29000."
  }
}

variable "stream_timeout_ms" {
  description = "Integration timeout of `/ask/stream` in milliseconds. A STREAM integration may run up to 15 minutes without a quota increase (API Gateway developer guide, \"Stream the integration response\"); the stream is also cut after 5 minutes without a byte (Regional endpoints)."
  type        = number

  validation {
    condition     = var.stream_timeout_ms >= 50 && var.stream_timeout_ms <= 900000
    error_message = "stream_timeout_ms must be between 50 and 900000."
  }
}

variable "stage_throttle_rate_limit" {
  description = "Stage-wide steady-state requests per second (all clients together)."
  type        = number
}

variable "stage_throttle_burst_limit" {
  description = "Stage-wide burst of requests."
  type        = number
}

variable "usage_plan_rate_limit" {
  description = "Requests per second per API key."
  type        = number
}

variable "usage_plan_burst_limit" {
  description = "Burst of requests per API key."
  type        = number
}

variable "usage_plan_quota_limit" {
  description = "Requests per API key per quota period."
  type        = number
}

variable "usage_plan_quota_period" {
  description = "Quota period: `DAY`, `WEEK` or `MONTH`."
  type        = string

  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.usage_plan_quota_period)
    error_message = "usage_plan_quota_period must be DAY, WEEK or MONTH."
  }
}

variable "api_key_generation" {
  description = "Generation of the API keys; increase it by one to rotate both keys (the smoke-test secret follows)."
  type        = number

  validation {
    condition     = var.api_key_generation >= 1 && floor(var.api_key_generation) == var.api_key_generation
    error_message = "api_key_generation must be a whole number, 1 or more."
  }
}

variable "smoke_api_key_secret_id" {
  description = "ID of the secret that receives the smoke-test API key."
  type        = string
}

variable "waf_enabled" {
  description = "Whether a WAF web ACL with a per-IP rate limit protects the stage."
  type        = bool
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one IP before WAF blocks it."
  type        = number

  validation {
    condition     = var.waf_rate_limit >= 10
    error_message = "waf_rate_limit must be at least 10 (the WAF minimum)."
  }
}

variable "log_retention_days" {
  description = "Days the access and WAF logs are kept."
  type        = number
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the access and WAF log groups."
  type        = string
}
